"""Compile ONNX models with Apache TVM (Relax) for the host, aarch64 or any TVM target.

Keras and PyTorch models reach TVM through ONNX (``compile_wrapper`` exports
them). The graph is imported with a static batch (``--inference-batch-size``)
so meta_schedule can tune it; the artifact also holds a ``kenning_batch``
function returning that batch, which :class:`kenning.runtimes.tvm.TVMRuntime`
reads to split or pad other batch sizes. The artifact is a shared library
(``.so``), cross-compiled for non-host targets, or a ``.tar`` of objects to
link on the target.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, ClassVar

import psutil

from kenning.compilers import tvm_tuning
from kenning.compilers.onnxutils import freeze_shapes
from kenning.core.args import Arg
from kenning.core.compiler import ModelCompiler
from kenning.core.dataset import Dataset
from kenning.core.iospec import IOSpec
from kenning.core.measurements import collector
from kenning.frameworks.onnx import load_onnx, onnx_io_spec
from kenning.utils.errors import ConfigurationError, ModelError
from kenning.utils.imports import require

log = logging.getLogger("kenning.tvm")

#: short target names -> TVM target dicts; anything else must be a JSON dict
TARGETS: dict[str, dict[str, Any]] = {
    "llvm": {"kind": "llvm"},
    "host": {"kind": "llvm", "mcpu": "native"},
    "aarch64": {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]},
}
#: cross compilers by target triple architecture
CROSS_COMPILERS = {"aarch64": "aarch64-linux-gnu-g++"}
#: name of the function in the artifact that returns the compiled batch size
BATCH_FUNCTION = "kenning_batch"


def parse_target(text: str) -> Any:
    """A ``tvm.target.Target`` from a short name or a JSON dict.

    ``host`` is ``llvm`` with this machine's CPU (``mcpu``) and core count filled in.

    Raises
    ------
    ConfigurationError
        If ``text`` is neither a known name nor a dict TVM accepts.
    """
    tvm = require("tvm", "tvm")
    if text in TARGETS:
        config = dict(TARGETS[text])
    elif text.lstrip().startswith("{"):
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"--target {text!r} is not valid JSON: {exc}") from exc
    else:
        raise ConfigurationError(
            f"--target {text!r} is unknown; use {', '.join(TARGETS)} or a TVM target as a "
            'JSON dict, e.g. \'{"kind": "llvm", "mtriple": "aarch64-linux-gnu"}\''
        )
    if config.get("mcpu") == "native":
        config["mcpu"] = tvm.target.codegen.llvm_get_system_cpu()
        config.setdefault("num-cores", psutil.cpu_count(logical=False) or 1)
    try:
        return tvm.target.Target(config)
    except (RuntimeError, ValueError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(f"--target {text!r} is not a TVM target: {first}") from exc


class TVMCompiler(ModelCompiler):
    """Compiles ONNX models with TVM Relax, optionally auto-tuned with meta_schedule.

    Parameters
    ----------
    dataset : Dataset, optional
        Unused for compiling; kept for the common interface.
    compiled_model_path : Path
        The artifact: ``.so`` (linked) or ``.tar`` (objects to link on the target).
    target : str
        ``llvm``, ``host``, ``aarch64`` or a TVM target JSON dict.
    opt_level : int
        Relax pass context optimisation level.
    tune_trials : int
        meta_schedule trials (0: no tuning). Host targets only.
    tuning_cache_dir : Path
        Where tuning records are kept, per model hash and target.
    cross_compiler : str
        C++ compiler that links the ``.so``; empty picks one from the target triple.
    batch_size : int
        The static batch the model is compiled for.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="the artifact: .so, or .tar to link on target"),
        Arg("--target", str, "llvm", "llvm, host, aarch64 or a TVM target as a JSON dict"),
        Arg("--opt-level", int, 3, "Relax optimisation level", choices=(0, 1, 2, 3, 4)),
        Arg("--tune-trials", int, 0, "meta_schedule tuning trials (0: no tuning)"),
        Arg("--tuning-cache-dir", Path, tvm_tuning.DEFAULT_CACHE, "tuning records cache"),
        Arg("--cross-compiler", str, "", "compiler linking the .so (default: from target)"),
        Arg(
            "--inference-batch-size", int, 1, "batch the model is compiled for", param="batch_size"
        ),
    )

    framework = "tvm"
    input_formats = ("onnx",)
    output_format = "tvm"

    def __init__(
        self,
        dataset: Dataset | None,
        compiled_model_path: Path,
        target: str = "llvm",
        opt_level: int = 3,
        tune_trials: int = 0,
        tuning_cache_dir: Path = tvm_tuning.DEFAULT_CACHE,
        cross_compiler: str = "",
        batch_size: int = 1,
    ) -> None:
        super().__init__(dataset, compiled_model_path)
        if tune_trials < 0:
            raise ConfigurationError(f"--tune-trials must be >= 0, got {tune_trials}")
        if batch_size < 1:
            raise ConfigurationError(f"--inference-batch-size must be >= 1, got {batch_size}")
        self.target_name = target
        self.opt_level = opt_level
        self.tune_trials = tune_trials
        self.tuning_cache_dir = Path(tuning_cache_dir)
        self.cross_compiler = cross_compiler
        self.batch_size = batch_size
        #: after a tuned compile: whether cached records were reused, and their folder
        self.tuning_reused: bool | None = None
        self.tuning_dir: Path | None = None

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Import, build and export ``input_model_path``.

        Raises
        ------
        ConfigurationError
            If the target is unknown, cannot be tuned, or needs a missing cross compiler.
        ModelError
            If the input is not ONNX or uses an operator TVM cannot import.
        """
        tvm = require("tvm", "tvm")
        target = parse_target(self.target_name)
        if self.tune_trials:
            tvm_tuning.check_tunable(target)
        fcompile = self._linker(target)
        input_model_path = Path(input_model_path)
        model = load_onnx(input_model_path)
        spec = onnx_io_spec(model, io_spec, input_model_path)
        shapes = {t.name: list(t.concrete_shape(self.batch_size)) for t in spec.inputs}
        mod = self._import(model, shapes, input_model_path)
        with collector.timed("tvm_build_s"):
            executable = self._build(tvm, mod, target, input_model_path, shapes)
        out = self.compiled_model_path
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            if out.suffix == ".tar":
                executable.export_library(str(out))
            else:
                executable.export_library(str(out), fcompile=fcompile)
        except (RuntimeError, OSError) as exc:
            raise ModelError(f"cannot export the TVM library to {out}: {exc}", out) from exc
        spec.save(out)
        return spec

    def _linker(self, target: Any) -> Any:
        cc = require("tvm.support.cc", "tvm")
        if self.compiled_model_path.suffix == ".tar":
            return None
        arch = str(target.attrs["mtriple"]).split("-")[0] if "mtriple" in target.attrs else ""
        compiler = self.cross_compiler or CROSS_COMPILERS.get(arch, "")
        if not compiler:
            return None
        if shutil.which(compiler) is None:
            raise ConfigurationError(
                f"--target {self.target_name} links with {compiler}, which is not installed "
                f"(Debian: apt-get install g++-{arch}-linux-gnu); or write a .tar "
                "--compiled-model-path and link it on the target"
            )
        return cc.cross_compiler(compiler)

    def _import(self, model: Any, shapes: dict[str, list[int]], path: Path) -> Any:
        tvm = require("tvm", "tvm")
        frontend = require("tvm.relax.frontend.onnx", "tvm")
        try:
            mod = frontend.from_onnx(
                freeze_shapes(model, shapes), shape_dict=shapes, keep_params_in_input=False
            )
        except Exception as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"TVM cannot import {path}: {first}", path) from exc
        relax = tvm.relax
        builder = relax.BlockBuilder(mod)
        with builder.function(BATCH_FUNCTION, []):
            builder.emit_func_output(relax.ShapeExpr([self.batch_size]))
        return builder.get()

    def _build(
        self, tvm: Any, mod: Any, target: Any, path: Path, shapes: dict[str, list[int]]
    ) -> Any:
        try:
            if not self.tune_trials:
                with tvm.transform.PassContext(opt_level=self.opt_level):
                    return tvm.compile(mod, target=target)
            target = tvm_tuning.tuning_target(target)
            decomposed = tvm_tuning.decompose(mod)
            lowered = tvm_tuning.lower(decomposed)
            self.tuning_dir = tvm_tuning.cache_dir(
                self.tuning_cache_dir, path.read_bytes(), target
            )
            with collector.timed("tvm_tuning_s"):
                database, self.tuning_reused = tvm_tuning.tune(
                    lowered, target, self.tuning_dir, self.tune_trials, shapes
                )
            return tvm_tuning.compile_tuned(database, decomposed, target)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"TVM cannot compile {path} for {target}: {first}", path) from exc

    def get_framework_and_version(self) -> tuple[str, str]:
        tvm = require("tvm", "tvm")
        return "tvm", tvm.__version__
