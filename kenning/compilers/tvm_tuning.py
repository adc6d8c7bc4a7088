"""meta_schedule auto-tuning for TVMCompiler, with records cached on disk.

Records live in ``<cache>/<model-sha256>-<target-hash>/`` (a meta_schedule
JSON database); a marker file there says how many trials were spent on which
input shapes, so a second compile of the same model for the same target with
no larger budget applies the records without tuning again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import platform
import sys
import types
from pathlib import Path
from typing import Any

import psutil

from kenning.utils.errors import ConfigurationError, ModelError
from kenning.utils.imports import require

log = logging.getLogger("kenning.tvm")

DEFAULT_CACHE = Path("~/.cache/kenning/tvm-tuning")
MARKER = "kenning-tuning.json"


def register_cpu_intrinsics() -> None:
    """Register only this CPU's tensor intrinsics, not TVM's whole collection.

    meta_schedule imports ``tvm.s_tir.tensor_intrin`` in the tuner and in
    every builder worker; its CUDA part alone takes 30-90 s to import on a busy
    2-core machine, so workers time out before building anything. A CPU target
    only uses the x86 or Arm intrinsics: the package is registered empty and
    just that module loaded. Runs in the tuning process and as the builder
    workers' initializer.
    """
    name = "tvm.s_tir.tensor_intrin"
    if name in sys.modules:
        return
    s_tir = importlib.import_module("tvm.s_tir")
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__package__ = name
    sys.modules[name] = package
    s_tir.tensor_intrin = package  # type: ignore[attr-defined]
    arch = "arm_cpu" if platform.machine() in ("aarch64", "arm64") else "x86"
    importlib.import_module(f"{name}.{arch}")


def cache_dir(root: Path, model_bytes: bytes, target: Any) -> Path:
    """The records folder of one model for one target."""
    model_hash = hashlib.sha256(model_bytes).hexdigest()
    exported = json.dumps(dict(target.export()), sort_keys=True, default=str)
    target_hash = hashlib.sha256(exported.encode()).hexdigest()[:16]
    return Path(root).expanduser() / f"{model_hash}-{target_hash}"


def decompose(mod: Any) -> Any:
    """Inference-only rewrites that precede both tuning and the tuned build."""
    tvm = require("tvm", "tvm")
    relax = tvm.relax
    return tvm.transform.Sequential(
        [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    )(mod)


def lower(mod: Any) -> Any:
    """Fused TIR from a module :func:`decompose` returned: what tasks are extracted from.

    The tuned build (:func:`compile_tuned`) repeats these steps on the
    decomposed module, so the functions it looks up match the records.
    """
    tvm = require("tvm", "tvm")
    return tvm.relax.pipeline.zero_pipeline()(mod)


def _reusable(work_dir: Path, trials: int, shapes: dict[str, list[int]]) -> bool:
    marker = work_dir / MARKER
    if not marker.is_file():
        return False
    try:
        done = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return bool(done.get("shapes") == shapes and int(done.get("trials", 0)) >= trials)


def tune(
    mod: Any,
    target: Any,
    work_dir: Path,
    trials: int,
    shapes: dict[str, list[int]],
    timeout_s: float = 300.0,
) -> tuple[Any, bool]:
    """Tune ``mod`` (from :func:`lower`) unless cached records suffice.

    Parameters
    ----------
    mod : tvm.IRModule
        The lowered module (see :func:`lower`).
    target : tvm.target.Target
        A target this machine can run (tuning measures candidates here).
    work_dir : Path
        The records folder (see :func:`cache_dir`).
    trials : int
        Total measured candidates (at least one per task).
    shapes : dict
        Input shapes, recorded beside the records.
    timeout_s : float
        Build and run timeout of one candidate (generous: a busy 2-core
        machine needs seconds just to start a worker).

    Returns
    -------
    tuple
        The meta_schedule database and whether the cache was reused.

    Raises
    ------
    ModelError
        If tuning fails.
    """
    require("xgboost", "tvm")
    ms = require("tvm.s_tir.meta_schedule", "tvm")
    register_cpu_intrinsics()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    if _reusable(work_dir, trials, shapes):
        log.info("reusing tuning records in %s", work_dir)
        return database, True
    tasks = ms.relax_integration.extract_tasks(mod, target)
    if not tasks:
        raise ModelError("TVM found nothing to tune in the model")
    # meta_schedule's console handler takes this logger's level; its files keep everything
    quiet = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(quiet)
    # a short first round gives every task a few candidates; the gradient scheduler
    # then spends the rest of the budget where latency drops fastest
    per_iter = max(1, min(8, trials // (2 * len(tasks))))
    log.info("tuning %d tasks, %d trials, records in %s", len(tasks), trials, work_dir)
    try:
        database = ms.relax_integration.tune_relax(
            mod,
            {},
            target,
            str(work_dir),
            max_trials_global=max(trials, len(tasks)),
            max_trials_per_task=max(trials, len(tasks)),
            num_trials_per_iter=per_iter,
            builder=ms.builder.LocalBuilder(
                max_workers=1, timeout_sec=timeout_s, initializer=register_cpu_intrinsics
            ),
            runner=ms.runner.LocalRunner(
                timeout_sec=timeout_s,
                evaluator_config=ms.runner.EvaluatorConfig(
                    number=20, repeat=3, min_repeat_ms=0, enable_cpu_cache_flush=False
                ),
            ),
            database=database,
            seed=0,
        )
    except RuntimeError as exc:
        raise ModelError(f"TVM tuning failed: {exc}") from exc
    (work_dir / MARKER).write_text(json.dumps({"trials": trials, "shapes": shapes}))
    return database, False


def compile_tuned(database: Any, mod: Any, target: Any) -> Any:
    """Build ``mod`` (from :func:`decompose`) with the best schedules in ``database``."""
    ms = require("tvm.s_tir.meta_schedule", "tvm")
    return ms.relax_integration.compile_relax(database, mod, target, None)


def tuning_target(target: Any) -> Any:
    """``target`` with ``num-cores`` set: meta_schedule sizes parallel loops from it."""
    if "num-cores" in target.attrs:
        return target
    tvm = require("tvm", "tvm")
    config = dict(target.export())
    config["num-cores"] = psutil.cpu_count(logical=False) or 1
    return tvm.target.Target(config)


def check_tunable(target: Any) -> None:
    """Tuning runs candidates on this machine: refuse a target it cannot run.

    Raises
    ------
    ConfigurationError
        If ``target`` is not this machine's CPU.
    """
    tvm = require("tvm", "tvm")
    triple = str(target.attrs.get("mtriple", "")) if "mtriple" in target.attrs else ""
    host = tvm.target.codegen.llvm_get_system_triple()
    if target.kind.name != "llvm" or (triple and triple.split("-")[0] != host.split("-")[0]):
        raise ConfigurationError(
            f"--tune-trials measures candidates on this machine ({host}); it cannot tune for "
            f"{target}: tune for the host, or compile that target without tuning"
        )
