"""Output agreement: a deployment's outputs against the source model's on the same inputs.

Each run keeps every output of every distinct sample it measured (``<results>.outputs.npz``,
see :class:`kenning.core.recorder.ResultsRecorder`). Comparing a deployment's file with the
reference run's (the model in its own framework) says, with no labels needed, whether the
compiled model still computes the same function. Every output is compared
(:mod:`kenning.core.outputcheck`): as a tensor always, by top-1 and top-k too when it is a
classification output. A deployment disagrees when any output fails any check, and the
reasons name the output and the measure: that is how a quantiser that collapses a
regression output to a constant, or a kernel that breaks a model (e.g. int8 XNNPACK kernels
under emulation), shows up even where accuracy cannot be measured.

Outputs are matched by name when both runs have the same names, else by position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from kenning.core.boxagreement import BoxAgreement
from kenning.core.outputcheck import (
    DEFAULT_TOLERANCES,
    OutputAgreement,
    Task,
    Tolerance,
    compare_output,
)
from kenning.utils.errors import ResultsError

#: default least top-1 agreement of a classification output with its reference
TOP1_TOLERANCE = 0.97


class OutputRule(Tolerance):
    """What a scenario says of one output: its task, whether it is scored, its tolerances."""

    task: Task | None = Field(None, description="what the output is (default: tensor)")
    scored: bool = Field(False, description="the output accuracy and the metrics use")


class Agreement(BaseModel):
    """How closely one run's outputs follow its reference's."""

    reference: str = Field(description="the reference results file")
    samples: int = Field(description="distinct samples both runs measured")
    precision: str = Field("float32", description="what the deployment computes in")
    outputs: list[OutputAgreement] = []
    unchecked: list[str] = Field(
        [], description="outputs whose size varies from sample to sample (not compared)"
    )
    agrees: bool
    reasons: list[str] = []
    #: the scored output's figures (what the comparison table shows)
    top1: float | None = None
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    tolerance: float | None = Field(None, description="the scored output's least top-1")
    boxes: BoxAgreement | None = Field(
        None, description="detection: the decoded boxes against the reference's, IoU-matched"
    )

    def line(self) -> str:
        """The scored output's measures, or ``DISAGREES:`` and every reason (for tables)."""
        if not self.agrees or not self.outputs:
            return "DISAGREES: " + "; ".join(self.reasons)
        more = f", {len(self.outputs)} outputs" if len(self.outputs) > 1 else ""
        unchecked = ", ".join(self.unchecked)
        text = f"{self.outputs[0].line()} (n={self.samples}{more})"
        if self.boxes is not None:
            text = f"{self.boxes.line()}; {text}"
        return f"{text}; not compared (size varies): {unchecked}" if unchecked else text


def with_boxes(agreement: Agreement, boxes: BoxAgreement | None) -> Agreement:
    """``agreement`` with the box agreement added: it disagrees when the boxes do."""
    if boxes is not None:
        agreement.boxes = boxes
        agreement.agrees = agreement.agrees and boxes.agrees
        agreement.reasons = [*agreement.reasons, *boxes.reasons]
    return agreement


@dataclass
class Captured:
    """The outputs one run kept: output names, dataset indices, one row per index each."""

    names: list[str]
    indices: np.ndarray
    rows: list[np.ndarray]

    def by_index(self) -> dict[int, int]:
        """Row number of each dataset index."""
        return {int(i): n for n, i in enumerate(self.indices)}


def load_outputs(path: Path) -> Captured:
    """Every captured output from an ``.outputs.npz`` (a one-output file of earlier runs too).

    Raises
    ------
    ResultsError
        If the file is missing or not such a file.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            indices = data["indices"]
            if "names" in data:
                names = [str(n) for n in data["names"]]
                rows = [data[f"output_{k}"] for k in range(len(names))]
            else:
                names, rows = ["output"], [data["outputs"]]
    except (OSError, KeyError, ValueError) as exc:
        raise ResultsError(f"cannot read captured outputs {path}: {exc}", path) from exc
    if any(r.ndim != 2 or len(r) != len(indices) for r in rows):
        raise ResultsError(f"{path} holds no per-sample outputs of one size", path)
    return Captured(names, indices, rows)


def _pairs(run: Captured, reference: Captured, where: Path) -> list[tuple[int, int]]:
    """(run output, reference output) pairs, by name when the names match, else by position."""
    if sorted(run.names) == sorted(reference.names):
        return [(run.names.index(name), k) for k, name in enumerate(reference.names)]
    if len(run.names) != len(reference.names):
        raise ResultsError(
            f"{where} has {len(run.names)} outputs ({', '.join(run.names)}) and its reference "
            f"{len(reference.names)} ({', '.join(reference.names)}): not the same model",
            where,
        )
    return [(k, k) for k in range(len(reference.names))]


def compare_outputs(
    run: Path,
    reference: Path,
    rules: Mapping[str, OutputRule] | None = None,
    *,
    precision: str = "float32",
    task: str = "tensor",
    top1: float = TOP1_TOLERANCE,
    label: str = "",
) -> Agreement:
    """Compare every output two runs captured, on the samples both measured.

    Parameters
    ----------
    run, reference : Path
        The two ``.outputs.npz`` files.
    rules : Mapping[str, OutputRule], optional
        By output name (or position, ``"0"``): its task, tolerances, whether it is scored.
    precision : str
        The deployment's precision: picks the default tolerances.
    task : str
        The scored output's task when no rule names one (the dataset's, e.g. classification).
    top1 : float
        Least top-1 agreement of a classification output that sets none.
    label : str
        How the reference is named in the result (default: its path).

    Raises
    ------
    ResultsError
        If a file cannot be read, the runs share no sample, or their outputs differ in
        number or size.
    """
    rules = rules or {}
    mine, theirs = load_outputs(run), load_outputs(reference)
    my_rows, their_rows = mine.by_index(), theirs.by_index()
    common = sorted(set(my_rows) & set(their_rows))
    if not common:
        raise ResultsError(f"{run} and {reference} measured no sample in common", run)
    base = DEFAULT_TOLERANCES.get(precision, DEFAULT_TOLERANCES["float32"])
    names = theirs.names
    ruled = [rules.get(name) or rules.get(str(k)) or OutputRule() for k, name in enumerate(names)]
    scored = next((k for k, rule in enumerate(ruled) if rule.scored), 0)
    outputs: list[tuple[bool, OutputAgreement]] = []
    unchecked = []
    for m, t in _pairs(mine, theirs, run):
        a = mine.rows[m][[my_rows[i] for i in common]]
        b = theirs.rows[t][[their_rows[i] for i in common]]
        if a.shape != b.shape:
            raise ResultsError(
                f"output '{names[t]}' of {run} ({a.shape[1]} values a sample) and of "
                f"{reference} ({b.shape[1]}) differ in size: not the same model",
                run,
            )
        if a.shape[1] == 0:  # the recorder keeps no rows of a size that varies
            unchecked.append(names[t])
            continue
        rule = ruled[t]
        kind = rule.task or (task if t == scored else "tensor")
        tolerance = rule.over(base.model_copy(update={"top1": top1}))
        outputs.append((t != scored, compare_output(names[t], a, b, kind, tolerance)))
    compared = [o for _, o in sorted(outputs, key=lambda pair: pair[0])]  # the scored first
    first = compared[0] if compared else None
    return Agreement(
        reference=label or str(reference),
        samples=len(common),
        precision=precision,
        outputs=compared,
        unchecked=unchecked,
        agrees=bool(compared) and all(o.agrees for o in compared),
        reasons=[r for o in compared for r in o.reasons]
        or ([] if compared else ["no output of one size to compare"]),
        top1=first.top1 if first else None,
        max_abs_error=first.max_abs_error if first else 0.0,
        max_rel_error=first.max_rel_error if first else 0.0,
        tolerance=first.tolerance.top1 if first and first.top1 is not None else None,
    )
