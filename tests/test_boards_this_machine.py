"""Local and emulated boards take turns; boards of one kind, and boards elsewhere, run at once.

The local board and an emulated microcontroller both run on this machine: QEMU beside the
local board's measurement is load that would make it INVALID. ``bench_boards`` never runs the
two kinds at once, and still runs boards of one kind together (emulated time is an
instruction count; several local boards stand in for boards in tests) and remote boards
beside them. The
benchmark itself is replaced by a timed sleep here (the real one has its own tests: test_boards
and test_mcu_toolchain); what is checked is the scheduling around it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kenning.toolchain.run import workers


class _Board:
    def __init__(self, name: str, here: str | None) -> None:
        self.name, self.arch, self.on_this_machine = name, "amd64", here


def test_local_and_emulated_boards_never_overlap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spans: dict[str, list[tuple[float, float]]] = {}
    lock = threading.Lock()

    def bench(executor: Any, board: _Board, *args: Any, **kwargs: Any) -> Path:
        start = time.monotonic()
        time.sleep(0.2)
        with lock:
            spans.setdefault(board.name, []).append((start, time.monotonic()))
        return tmp_path / board.name

    monkeypatch.setattr(workers, "bench_deployment", bench)
    boards = [_Board("local", "local"), _Board("local-2", "local")]
    boards += [_Board("qemu-m4", "emulated"), _Board("qemu-m55", "emulated")]
    boards += [_Board("rpi4-1", None), _Board("rpi4-2", None)]
    job = SimpleNamespace(
        scenario=SimpleNamespace(deployments={"a": SimpleNamespace(model="m")}),
        as_given=lambda exc, *_: exc,
    )
    runs = workers.bench_boards(
        None, job, tmp_path, {b: ["a"] for b in boards},  # type: ignore[arg-type]
        before={}, references={}, refused={}, advance=lambda _: None,
    )  # fmt: skip
    assert not runs.failures and len(runs.done) == 6

    def overlap(a: str, b: str) -> bool:
        return any(s1 < e2 and s2 < e1 for s1, e1 in spans[a] for s2, e2 in spans[b])

    local, emulated = ["local", "local-2"], ["qemu-m4", "qemu-m55"]
    assert not any(overlap(a, b) for a in local for b in emulated)
    assert overlap("local", "local-2") and overlap("qemu-m4", "qemu-m55")  # one kind: at once
    assert overlap("rpi4-1", "rpi4-2")  # boards elsewhere still run at once
    assert any(overlap("rpi4-1", b) for b in local + emulated)
