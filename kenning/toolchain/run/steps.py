"""A step of the toolchain as data: what it runs, where, what it reads and writes.

A :class:`Step` runs through an executor and its record keeps all of it (``template`` with
``{name}`` placeholders, ``parameters``, ``inputs``, ``outputs``, beside the command that
ran), so :mod:`kenning.toolchain.reproduce.rerun` re-runs it from those fields, filling in new
parameters (a new server's host and port), with no command line parsed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kenning.executors.base import ExecutionRecord, Executor
from kenning.executors.errors import ExecutionTimeoutError
from kenning.toolchain.run.console import QuietConsole, screen, verbose
from kenning.utils.provenance import sha256_tree

#: seconds a step may run when its caller sets no deadline: a day-long training still fits,
#: and a step that hangs ends the run instead of holding it for ever
STEP_DEADLINE_S = 24 * 3600.0


class StepTimeoutError(ExecutionTimeoutError):
    """A step that gave no exit status by its deadline; it was stopped.

    Parameters
    ----------
    step : str
        The step's name.
    log : Path, optional
        Its log file (None: its output went to the screen).
    cause : ExecutionTimeoutError
        The executor's error (command, deadline, stderr tail, where it ran).
    """

    def __init__(self, step: str, log: Path | None, cause: ExecutionTimeoutError) -> None:
        self.step = step
        self.log = log
        see = f"; its log: {log}" if log is not None else ""
        super().__init__(cause.command, cause.timeout_s, cause.stderr_tail, cause.where, see)
        self.args = (f"step '{step}': {self.args[0]}",)


@dataclass(frozen=True)
class Step:
    """One command of the toolchain.

    Attributes
    ----------
    name : str
        ``train``, ``export``, ``compile``, ``benchmark``...
    image : str
        Catalogue image it belongs in (empty: none, e.g. a host-side step).
    template : list of str
        The command; a word ``{name}`` is a placeholder filled from ``parameters``.
    parameters : mapping
        Values that change between runs of the same step (a server's ``host``, ``port``).
    inputs, outputs : list of str
        Paths, relative to the working folder, the step reads (made before it) and writes.
    """

    name: str
    image: str
    template: list[str]
    parameters: Mapping[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def argv(self, parameters: Mapping[str, str] | None = None) -> list[str]:
        """The command with ``parameters`` (default: the step's own) filled in."""
        values = {**self.parameters, **(parameters or {})}
        return [
            values.get(word[1:-1], word) if _is_placeholder(word) else word
            for word in self.template
        ]

    def run(
        self,
        executor: Executor,
        *,
        workdir: Path | None = None,
        log: Path | None = None,
        timeout: float = STEP_DEADLINE_S,
    ) -> ExecutionRecord:
        """Run the step; return its record with the step's data in it.

        With ``log``, the step's whole output goes to that file and only kenning's own lines
        to the screen (:mod:`kenning.toolchain.run.console`; ``--verbosity DEBUG`` shows all).
        ``timeout`` is the seconds it may run before it is stopped.

        Raises
        ------
        StepTimeoutError
            If it gives no exit status within ``timeout`` (naming the step and its log).
        ExecutionError
            If the command fails (its ``record`` has the step's data too).
        """
        with ExitStack() as stack:
            streams: dict[str, TextIO] = {}
            if log is not None and verbose():
                log = None  # everything goes to the screen
            if log is not None:
                file = stack.enter_context(log.open("w", encoding="utf-8"))
                streams = {k: QuietConsole(file, screen(k)) for k in ("stdout", "stderr")}  # type: ignore[misc]
            try:
                record = executor.run(
                    self.argv(),
                    image=self.image or None,
                    workdir=workdir,
                    timeout=timeout,
                    stdout=streams.get("stdout"),
                    stderr=streams.get("stderr"),
                )
            except ExecutionTimeoutError as exc:
                raise StepTimeoutError(self.name, log, exc) from exc
            except Exception as exc:
                if getattr(exc, "record", None) is not None:
                    exc.record = self.describe(exc.record)  # type: ignore[attr-defined]
                raise
        return self.describe(record)

    def describe(self, record: ExecutionRecord) -> ExecutionRecord:
        """``record`` with this step's template, parameters, inputs and outputs."""
        return record.model_copy(
            update={
                "template": list(self.template),
                "parameters": dict(self.parameters),
                "inputs": list(self.inputs),
                "outputs": list(self.outputs),
                "inputs_sha256": input_hashes(self.inputs, Path(record.workdir)),
            }
        )

    @classmethod
    def from_record(cls, name: str, record: ExecutionRecord) -> Step:
        """The step a record was made by (a record without a template runs its command)."""
        return cls(
            name,
            record.environment or record.image or "",
            list(record.template or record.command),
            dict(record.parameters),
            list(record.inputs),
            list(record.outputs),
        )


def input_hashes(inputs: list[str], workdir: Path) -> dict[str, str]:
    """The sha256 of each input that exists (relative ones in ``workdir``), by its name."""
    hashes = {}
    for item in inputs:
        path = workdir / item
        if path.exists():
            hashes[item] = sha256_tree(path)
    return hashes


def paths(*items: Path | str) -> list[str]:
    """Paths as the strings a step stores, each once, in order."""
    return list(dict.fromkeys(str(item) for item in items))


def python(*args: str) -> list[str]:
    """``python -m ARGS``: the executor's own Python runs the module."""
    return ["python", "-m", *args]


def _is_placeholder(word: str) -> bool:
    return len(word) > 2 and word[0] == "{" and word[-1] == "}" and word[1:-1].isidentifier()
