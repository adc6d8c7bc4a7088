r"""The separate venv MXNet runs in, and the worker calls into it.

MXNet 1.9.1 (its last release) needs numpy < 1.24, while kenning needs
numpy 2, so :class:`kenning.onnxconverters.mxnet.MXNetONNXConversion` runs
:mod:`kenning.onnxconverters.mxnet_worker` with this venv's Python. Create it
once (20-40 s, 360 MB)::

    python -m kenning.onnxconverters.mxnet_env            # default path
    python -m kenning.onnxconverters.mxnet_env --path DIR --python python3.11

The path is taken, in order, from ``--mxnet-venv``, the ``KENNING_MXNET_VENV``
environment variable, then ``~/.cache/kenning/mxnet-venv``. MXNet ships one
``py3-none-manylinux2014_x86_64`` wheel, which runs on Python 3.11.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kenning.core.onnxresults import ConversionError, EnvironmentUnavailableError
from kenning.utils.argparser import ArgumentParser
from kenning.utils.errors import ConfigurationError

ENV_VARIABLE = "KENNING_MXNET_VENV"
REQUIREMENTS = Path(__file__).with_name("requirements-mxnet.txt")
WORKER = Path(__file__).with_name("mxnet_worker.py")
#: seconds each step of making the venv (``venv``, ``pip install``) gets
CREATE_TIMEOUT_S = 1800.0


def default_venv() -> Path:
    """``$KENNING_MXNET_VENV`` or ``~/.cache/kenning/mxnet-venv``."""
    value = os.environ.get(ENV_VARIABLE)
    return Path(value) if value else Path.home() / ".cache" / "kenning" / "mxnet-venv"


def venv_python(venv: Path) -> Path:
    """The Python interpreter of ``venv``."""
    return venv / "bin" / "python"


def call_worker(venv: Path, command: str, timeout: float, **options: str) -> dict[str, Any]:
    """Run one worker command in ``venv`` and return its JSON result.

    Raises
    ------
    EnvironmentUnavailableError
        If the venv has no Python, or MXNet cannot be imported in it.
    ConversionError
        If the worker crashes (e.g. a segfault) or exceeds ``timeout`` seconds.
    """
    python = venv_python(venv)
    if not python.exists():
        raise EnvironmentUnavailableError(
            f"no MXNet venv at {venv}; create it with: python -m kenning.onnxconverters.mxnet_env"
            f" --path {venv}"
        )
    with tempfile.TemporaryDirectory(prefix="kenning-mxnet-") as folder:
        result = Path(folder) / "result.json"
        argv = [str(python), str(WORKER), command, "--result", str(result)]
        for key, value in options.items():
            argv += [f"--{key}", value]
        env = dict(
            os.environ,
            PYTHONNOUSERSITE="1",
            OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
        )
        env.pop("PYTHONPATH", None)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(
                f"MXNet worker '{command}' timed out after {timeout:.0f} s"
            ) from exc
        if not result.exists():
            tail = " ".join(done.stderr.split()[-60:])
            raise ConversionError(
                f"MXNet worker '{command}' exited with {done.returncode} and no result: {tail}"
            )
        answer: dict[str, Any] = json.loads(result.read_text())
    if not answer.get("ok") and answer.get("step") == "environment":
        raise EnvironmentUnavailableError(
            f"MXNet does not work in {venv}: {answer.get('message', '')}"
        )
    return answer


def probe(venv: Path, timeout: float = 120) -> dict[str, Any]:
    """Versions of mxnet, numpy and onnx in ``venv``.

    Raises
    ------
    EnvironmentUnavailableError
        If the venv is missing or MXNet does not import in it.
    """
    try:
        return call_worker(venv, "probe", timeout)
    except EnvironmentUnavailableError:
        raise
    except ConversionError as exc:
        raise EnvironmentUnavailableError(f"MXNet venv {venv} is broken: {exc}") from exc


def create(venv: Path, python: str = sys.executable) -> dict[str, Any]:
    """Create ``venv`` with ``python`` and install ``requirements-mxnet.txt`` into it.

    Returns
    -------
    dict
        What :func:`probe` reports afterwards.

    Raises
    ------
    ConfigurationError
        If creating the venv or installing the packages fails, or one outlasts
        :data:`CREATE_TIMEOUT_S`.
    """
    steps = [
        [python, "-m", "venv", "--clear", str(venv)],
        [str(venv_python(venv)), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
    ]
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=CREATE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ConfigurationError(
                f"'{' '.join(argv)}' gave no exit status within {CREATE_TIMEOUT_S:g} s "
                "and was stopped"
            ) from exc
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise ConfigurationError(f"'{' '.join(argv)}' failed ({done.returncode}): {tail}")
    return probe(venv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: create the venv (or only ``--check`` it)."""
    parser = ArgumentParser(
        prog="python -m kenning.onnxconverters.mxnet_env", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--path", type=Path, default=default_venv(), help="venv folder")
    parser.add_argument("--python", default=sys.executable, help="interpreter to base it on")
    parser.add_argument("--check", action="store_true", help="only report what is there")
    args = parser.parse_args(argv)
    info = probe(args.path) if args.check else create(args.path, args.python)
    print(json.dumps({"venv": str(args.path), **info}))
    return 0


if __name__ == "__main__":
    from kenning.utils.cli import run

    run(main)
