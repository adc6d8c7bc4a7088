"""What defines a run: the settings a resumed run must share with the file it continues.

A results file is one run: one model file, on one split of one dataset, in one batch size,
measured one way, in one runtime. ``--resume`` continues such a file only when every one of
those settings is the same; :func:`run_identity` lists them, in this one place, and
:func:`check_same_run` compares them all and names each that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kenning.core.args import ArgumentsHandler
from kenning.core.measure import MeasureSettings
from kenning.core.results import Results
from kenning.utils.errors import ConfigurationError

#: what an old file says for a setting it did not record
NOT_RECORDED = "(not recorded)"

#: dataset flags that say how to get the data, not which data the run measures
_NOT_IDENTITY = {"--download-dataset"}


def dataset_parameters(cls: type[ArgumentsHandler], args: Any) -> dict[str, Any]:
    """The dataset flags a run was given, by flag, as JSON values (paths made absolute).

    Parameters
    ----------
    cls : type
        The dataset class.
    args : argparse.Namespace
        The parsed command line.
    """
    values: dict[str, Any] = {}
    for arg in cls.arguments():
        if arg.flag in _NOT_IDENTITY or not hasattr(args, arg.dest):
            continue
        value = getattr(args, arg.dest)
        values[arg.flag] = str(Path(value).resolve()) if isinstance(value, Path) else value
    return values


def run_identity(results: Results) -> dict[str, Any]:
    """Every setting that defines the run of ``results``, by the name a user knows it by.

    The model file's hash, its wrapper, compiler and runtime; the dataset class and each of
    its flags (split seed, validation fraction, batch size, root, ...); each measurement
    setting (sample order, subset, lengths, percentiles, ...). ``repeats`` is not one: it
    counts runs, each its own file.
    """
    model, data = results.model, results.dataset
    identity: dict[str, Any] = {
        "model file SHA-256": model.sha256,
        "model wrapper": model.wrapper,
        "compiler": model.compiler,
        "runtime": model.runtime,
        "dataset": data.cls,
        "--inference-batch-size": data.batch_size,
    }
    identity.update(data.parameters)
    measure = results.measure or MeasureSettings()
    identity.update(measure.identity())
    return identity


def differences(old: Results, new: Results) -> list[str]:
    """``setting old → new`` for each setting of :func:`run_identity` that differs."""
    before, after = run_identity(old), run_identity(new)
    found = []
    for key in dict.fromkeys([*before, *after]):
        was, now = before.get(key, NOT_RECORDED), after.get(key, NOT_RECORDED)
        if was != now:
            found.append(f"{key} {_show(was)} → {_show(now)}")
    return found


def check_same_run(path: Path, old: Results, new: Results) -> None:
    """Refuse to continue ``old`` (read from ``path``) with a run that is not the same.

    Raises
    ------
    ConfigurationError
        Naming every setting that differs (old → new) and the fix.
    """
    found = differences(old, new)
    if found:
        raise ConfigurationError(
            f"cannot resume {path}: it is another run ({'; '.join(found)}); --resume continues "
            "only the same run: give the file's settings again, or choose another OUTPUT to "
            "start a new run"
        )


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_show(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
