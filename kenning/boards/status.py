"""What a probe of a board found: reachable, architecture, Python, runtimes, disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from kenning.core.registry import SHORT_NAMES

#: runtime short name -> modules that provide it, in order of preference (none: built in)
RUNTIME_MODULES: dict[str, tuple[str, ...]] = {
    "tflite": ("ai_edge_litert", "tflite_runtime", "tensorflow"),
    "onnxruntime": ("onnxruntime",),
    "tvm": ("tvm",),
    "pytorch": ("torch",),
    "null": (),
}

#: runs on the board's python: prints its version and, per ``runtime=mod1,mod2`` argument,
#: the first module found (``-`` if none); importlib.util.find_spec imports nothing
PYTHON_PROBE = """\
import sys, importlib.util as u
print("python", sys.version.split()[0])
for a in sys.argv[1:]:
    r, _, ms = a.partition("=")
    f = []
    for m in ms.split(","):
        try:
            if m and u.find_spec(m):
                f.append(m)
        except (ImportError, ValueError):
            pass
    print("runtime", r, f[0] if f else "-")
"""


def runtime_modules(runtime: str) -> tuple[str, ...]:
    """The modules whose presence means ``runtime`` can run (empty: nothing to install)."""
    if runtime in RUNTIME_MODULES:
        return RUNTIME_MODULES[runtime]
    # a plug-in runtime: its package is what must be installed
    return (SHORT_NAMES["runtime"].get(runtime, runtime).split(".")[0],)


@dataclass
class BoardStatus:
    """What probing one board found.

    Attributes
    ----------
    name : str
        The board.
    expected_arch : str
        The architecture the inventory declares.
    reachable : bool
        The probe ran on the board (SSH connected and authenticated, or the local board).
    machine : str, optional
        What ``uname -m`` said (``x86_64``, ``aarch64``, ...).
    arch : str, optional
        ``machine`` as kenning names it (``amd64``, ``arm64``).
    python : str, optional
        Version of the board's python (None: not found, or not probed for image boards).
    runtimes_found : dict of str to str
        Runtime -> the module providing it (``"built in"`` for null).
    runtimes_missing : list of str
        Runtimes the inventory lists that the board cannot run.
    free_bytes : int, optional
        Free space in the board's workdir (or its nearest existing parent).
    docker : str, optional
        The board's Docker server version (image boards only).
    error : str, optional
        The message of the error that stopped the probe.
    duration_s : float
        How long probing took.
    """

    name: str
    expected_arch: str
    deploy: str = "local"
    reachable: bool = False
    machine: str | None = None
    arch: str | None = None
    python: str | None = None
    runtimes_found: dict[str, str] = field(default_factory=dict)
    runtimes_missing: list[str] = field(default_factory=list)
    free_bytes: int | None = None
    docker: str | None = None
    error: str | None = None
    duration_s: float = 0.0

    @property
    def arch_matches(self) -> bool | None:
        """Whether the reported architecture is the declared one (None: not known)."""
        return None if self.arch is None else self.arch == self.expected_arch

    @property
    def problems(self) -> list[str]:
        """Everything that keeps the board from being benchmarked, one sentence each."""
        if self.error:
            return [self.error]
        found: list[str] = []
        if self.arch_matches is False:
            found.append(
                f"architecture is {self.machine}, the inventory says {self.expected_arch}"
            )
        if self.deploy == "mcu":  # the firmware is the whole server: no python, no disk
            return found
        if self.deploy == "image":
            if self.docker is None:
                found.append("docker is not usable on the board (needed by `deploy: image`)")
        elif self.python is None:
            found.append("the board's python was not found (set `python:` in the inventory)")
        if self.runtimes_missing:
            found.append(f"runtimes not installed: {', '.join(self.runtimes_missing)}")
        if self.free_bytes is None:
            found.append("free disk space could not be read")
        return found

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.reachable and not self.problems
