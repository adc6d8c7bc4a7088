"""What a results file says about its own run: model, compiler, runtime, board, label.

Reports name runs only from this metadata, never from file names, so a
comparison reads the same wherever its files came from.
"""

from __future__ import annotations

from collections.abc import Sequence

from kenning.core.results import FrameworkInfo, Results


def _framework(results: Results, role: str) -> FrameworkInfo | None:
    return next((f for f in results.frameworks if f.role == role), None)


def _short(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def model_name(results: Results) -> str:
    """The model's name: the scenario's (recorded by a scenario's run), else its wrapper class.

    Every model file read by the generic wrappers (``ONNXModel``, ``TFLiteModel``...) would
    otherwise look the same in a report.
    """
    named = results.provenance.get("model")
    return str(named) if named else _short(results.model.wrapper)


def compiler(results: Results) -> str | None:
    """The compiler and its version, or ``None`` when the model ran uncompiled.

    A scenario's deployment names its chain of compilers (``onnx -> tvm``); the benchmark
    itself only received the chain's artifact ("precompiled").
    """
    chain = results.provenance.get("chain")
    if isinstance(chain, list):
        return " -> ".join(map(str, chain)) or None
    info = _framework(results, "compiler")
    if info is not None:
        return f"{info.name} {info.version}"
    return _short(results.model.compiler) if results.model.compiler else None


def runtime(results: Results) -> str:
    """The runtime and its version; the model's own framework when no runtime was used."""
    info = _framework(results, "runtime")
    if info is not None:
        return f"{info.name} {info.version}"
    if results.model.runtime:
        return _short(results.model.runtime)
    model = _framework(results, "model")
    return f"{model.name} {model.version}" if model is not None else "unknown"


def board(results: Results) -> str:
    """The board named in the provenance, else the host that ran the scenario."""
    named = results.provenance.get("board")
    return str(named) if named else results.host.hostname


def labels(runs: Sequence[Results]) -> list[str]:
    """Distinct, readable labels for runs, from their metadata.

    A label is model, compiler (when any), runtime name and board; where two
    runs would share one, the first of the artifact name a pipeline recorded in
    the provenance, batch size, creation time and position that tells them apart
    is added.
    """
    out = []
    for results in runs:
        deployment = results.provenance.get("deployment")
        if deployment:  # a scenario's run: its deployment's name, its model, its board
            out.append(" · ".join((str(deployment), model_name(results), board(results))))
            continue
        parts = [model_name(results)]
        if compiler(results):
            parts.append(str(compiler(results)).split(" ")[0])
        parts += [runtime(results).split(" ")[0], board(results)]
        out.append(" · ".join(parts))
    extras = (
        lambda r, i: str(r.provenance.get("artifact", f"batch {r.dataset.batch_size}")),
        lambda r, i: f"batch {r.dataset.batch_size}",
        lambda r, i: r.created,
        lambda r, i: f"#{i + 1}",
    )
    for extra in extras:
        clashing = {label for label in out if out.count(label) > 1}
        if not clashing:
            break
        longer = [
            f"{label} · {extra(runs[i], i)}" if label in clashing else label
            for i, label in enumerate(out)
        ]
        if len(set(longer)) > len(set(out)):  # only what tells runs apart lengthens a label
            out = longer
    return out
