"""Naming the packages that changed between two lock files known only by their hashes."""

import hashlib
import subprocess
from pathlib import Path

import numpy as np

from kenning.core.results import Results
from kenning.toolchain.lockdiff import describe_change, pins
from kenning.toolchain.verdict import Check, compare

OLD = "numpy==2.4.6\ntermcolor==3.3.0\nwheel==0.48.0\n"
NEW = "numpy==2.4.6\ntermcolor==3.2.0\nzstd==1.5\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_changed_pins_are_named_from_git_history_and_the_work_tree(tmp_path: Path) -> None:
    lock = tmp_path / "images" / "x" / "requirements.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(OLD)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "lock"], check=True)
    lock.write_text(NEW)  # the pin changed in the work tree, image rebuilt from it
    what = describe_change("images/x/requirements.lock", _sha(OLD), _sha(NEW), tmp_path)
    assert what == "termcolor 3.3.0 -> 3.2.0, wheel 0.48.0 -> (removed), zstd (none) -> 1.5"
    assert describe_change("images/x/requirements.lock", "0" * 64, _sha(NEW), tmp_path) == ""


def test_apt_and_pip_pins_are_read() -> None:
    assert pins("# c\nopenssh-server=1:9.2p1-2\nfoo==1.0 ; python_version>'3'\n") == {
        "openssh-server": "1:9.2p1-2", "foo": "1.0"}  # fmt: skip


def _results(times: list[float]) -> Results:
    from kenning.core.results import SampleResult

    samples = [SampleResult(index=i, seq=i, ground_truth=0, predictions=[0], inference_s=t,
                            batch=i) for i, t in enumerate(times)]  # fmt: skip
    # only what compare() reads: the rest of a results file does not matter here
    return Results.model_construct(status="complete", samples=samples, metrics=None)


def test_latency_band_and_noise_floor() -> None:
    def check(old: list[float], new: list[float]) -> Check:
        [found] = [c for c in compare(_results(old), _results(new))
                   if c.subject == "inference p50"]  # fmt: skip
        return found

    def verdict(old: float, new: float) -> bool:
        return check([old] * 5, [new] * 5).ok

    assert verdict(1e-3, 1.4e-3) and not verdict(1e-3, 1.6e-3) and not verdict(1e-3, 0.6e-3)
    assert verdict(4e-6, 8e-6)  # 2x, but 4 µs apart: noise
    # a real difference inside the band passes with a warning that says how much slower
    slower = check([1e-3] * 50, [1.2e-3] * 50)
    assert slower.ok and slower.warning and slower.verdict.startswith("slower by 20%")
    rng = np.random.default_rng(0)
    same = check(list(rng.normal(1e-3, 1e-4, 300)), list(rng.normal(1e-3, 1e-4, 300)))
    assert same.ok and not same.warning and same.verdict.startswith("within noise")
