"""A new results file for a run: the command, the host, the model, the data and the frameworks.

:func:`new_results` fills what every scenario that measures records before its first sample;
the samples, metrics and verdict come later (:class:`kenning.core.recorder.ResultsRecorder`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kenning.core.resultparts import DatasetInfo, FrameworkInfo, HostInfo, ModelInfo
from kenning.core.results import Results, now


def _dotted(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__name__}"


def new_results(
    scenario: str,
    model: Any,
    dataset: Any,
    frameworks: list[FrameworkInfo],
    model_path: Path,
    compiler: Any = None,
    runtime: str | None = None,
) -> Results:
    """The metadata of a run on the validation subset, with no samples yet.

    Parameters
    ----------
    scenario : str
        Name of the scenario writing the file.
    model, dataset : ModelWrapper, Dataset
        What runs, on what.
    frameworks : list of FrameworkInfo
        The frameworks taking part.
    model_path : Path
        The model file that runs (the compiled artifact when there is one).
    compiler : ModelCompiler, optional
        The compiler that produced ``model_path``.
    runtime : str, optional
        The runtime's name.
    """
    model_path = Path(model_path)
    try:
        outputs = [s.name for s in model.get_io_specification().outputs]
    except NotImplementedError:  # a wrapper that does not describe its outputs
        outputs = []
    return Results(
        scenario=scenario,
        command=command_line(),
        created=now(),
        host=HostInfo.current(),
        frameworks=frameworks,
        model=ModelInfo(
            wrapper=_dotted(model),
            path=str(model_path),
            size_bytes=model_path.stat().st_size if model_path.is_file() else None,
            compiler=_dotted(compiler) if compiler is not None else None,
            runtime=runtime,
            outputs=outputs,
            scored_output=outputs[model.scored_index()] if outputs else None,
        ),
        dataset=DatasetInfo(
            cls=_dotted(dataset),
            subset="validation",
            num_samples=len(dataset.subset_indices("validation")),
            class_names=dataset.get_class_names(),
            batch_size=dataset.batch_size,
            task=dataset.task,
        ),
    )


def command_line() -> list[str]:
    """The command that started this process, as a list of words."""
    return (
        [Path(sys.executable).name, *sys.orig_argv[1:]] if hasattr(sys, "orig_argv") else sys.argv
    )
