"""The house's layers: import-linter's contracts hold, break when they should, and no cycles.

docs/architecture.md lists the layers; pyproject.toml's ``[tool.importlinter]`` enforces them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from conftest import ROOT

LINT = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_the_contracts_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 6 kept, 0 broken." in done.stdout


def _copy_adding(tmp_path: Path, module: str, text: str) -> Path:
    """A copy of kenning and its contracts with ``text`` appended to ``module``."""
    shutil.copytree(ROOT / "kenning", tmp_path / "kenning",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + text)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "upward", "contract"),
    [
        ("kenning/core/figures.py", "kenning.toolchain.run.bench", "layers point one way"),
        ("kenning/compilers/onnx.py", "kenning.runtimes.onnxruntime", "are independent"),
        ("kenning/executors/local.py", "kenning.toolchain.images.catalogue", "one way"),
        # the toolchain's rooms: reproduce > run > scenario | images
        ("kenning/toolchain/run/bench.py", "kenning.toolchain.reproduce.verdict", "rooms"),
        ("kenning/toolchain/scenario/chains.py", "kenning.toolchain.run.plan", "rooms"),
        ("kenning/toolchain/images/catalogue.py", "kenning.toolchain.scenario.schema", "rooms"),
        ("kenning/toolchain/scenario/load.py", "kenning.toolchain.images.build", "rooms"),
        ("kenning/executors/ssh/files.py", "kenning.executors.docker", "stands alone"),
    ],
)
def test_an_upward_import_breaks_them(
    tmp_path: Path, module: str, upward: str, contract: str
) -> None:
    done = _lint(_copy_adding(tmp_path, module, f"\nimport {upward}  # noqa: E402, F401\n"))
    assert done.returncode != 0
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout, done.stdout[-2000:]
    assert upward in done.stdout


@pytest.mark.parametrize(
    ("module", "added", "package", "edges"),
    [
        # the two circles there were: SSH helpers importing the executor, probing and tables
        ("kenning/executors/ssh/files.py", "import kenning.executors.ssh.executor",
         "kenning.executors.ssh",
         (".files -> .executor", ".executor -> .board", ".board -> .files")),
        ("kenning/boards/status.py",
         "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import kenning.boards.check",
         "kenning.boards", (".status -> .check",)),
    ],
)  # fmt: skip
def test_a_circle_breaks_them(
    tmp_path: Path, module: str, added: str, package: str, edges: tuple[str, ...]
) -> None:
    done = _lint(_copy_adding(tmp_path, module, f"\n{added}  # noqa: E402, F401\n"))
    assert done.returncode != 0
    assert "no circles among sibling modules BROKEN" in done.stdout, done.stdout[-2000:]
    assert f"No cycles are allowed in {package}." in done.stdout
    # the edge it suggests removing is one of the circle's (which one is import-linter's choice)
    assert any(edge in done.stdout for edge in edges), done.stdout[-2000:]


def test_no_package_cycle_and_no_file_circle() -> None:
    graph = grimp.build_graph("kenning")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(f"{module} -> {' -> '.join(back)}")
    assert not cycles, "\n".join(cycles)


#: modules allowed over 300 lines for now, each with why (the list may only shrink)
LONG_FOR_NOW: dict[str, str] = {}


def test_no_module_over_300_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "kenning").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 300}  # fmt: skip
    assert set(long) <= set(LONG_FOR_NOW), long
    assert all(n < 400 for n in long.values()), long


def _tree(docstring: str) -> dict[str, str | None]:
    """Class -> parent as drawn in a module docstring's exception tree."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in docstring.splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*)(?:[├└]── )?([A-Z]\w*(?:Error|Exception))\b", line)
        if not match or not re.search(r"[├└]── |^\s{4}[A-Z]", line):
            continue
        depth = len(match.group(1)) + (4 if "──" in line else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else None
        stack.append((depth, match.group(2)))
    return parents


@pytest.mark.parametrize(
    ("module", "also"),
    [
        ("kenning.utils.errors", ()),
        ("kenning.executors.errors", ("kenning.executors.boarderrors",)),
        ("kenning.runtimeprotocols.errors", ()),
        ("kenning.farm.errors", ()),
    ],
)
def test_exception_trees_in_docstrings_match_the_classes(module: str, also: tuple[str, ...]):
    import importlib

    modules = [importlib.import_module(m) for m in (module, *also)]
    drawn = _tree(modules[0].__doc__ or "")
    assert len(drawn) > 3, f"no tree drawn in {module}'s docstring"
    defined = {name: obj for m in modules for name, obj in vars(m).items()
               if isinstance(obj, type) and issubclass(obj, Exception)
               and obj.__module__ == m.__name__}  # fmt: skip
    assert set(defined) <= set(drawn), f"not in the tree: {set(defined) - set(drawn)}"
    for name, parent in drawn.items():
        if name in defined and parent is not None:
            assert defined[name].__bases__[0].__name__ == parent, (name, parent)


def test_the_architecture_picture_is_drawn_from_the_current_imports() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "architecture_graph.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_fmt_skip_packs_lines_in_kenning() -> None:
    """The formatter decides the layout; an aligned table may opt out, with its reason."""
    packed = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted((ROOT / "kenning").rglob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "fmt: skip" in line or "fmt: off" in line
        if "aligned" not in line
    ]
    assert not packed, packed
