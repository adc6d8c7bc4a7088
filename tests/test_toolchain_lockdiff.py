"""Naming the packages that changed between two lock files known only by their hashes."""

import hashlib
import subprocess
from pathlib import Path

from kenning.core.results import Results
from kenning.toolchain.images.lockdiff import describe_change, pins
from kenning.toolchain.reproduce.verdict import Check, Verdict, compare, format_verdict

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


def _results(times: list[float], state: str = "VALID") -> Results:
    from kenning.core.results import SampleResult
    from kenning.core.validity import RunVerdict

    samples = [
        SampleResult(index=i, seq=i, ground_truth=0, predictions=[0], inference_s=t, batch=i)
        for i, t in enumerate(times)
    ]
    # only what compare() reads: the rest of a results file does not matter here
    return Results.model_construct(
        status="complete", samples=samples, metrics=None, verdict=RunVerdict(state=state)
    )


def _runs(
    median: float, spread: float = 0.0, count: int = 3, state: str = "VALID"
) -> list[Results]:
    """``count`` runs whose medians are ``median`` times 1, 1+spread, 1-spread, ..."""
    offsets = [0.0, spread, -spread, spread / 2, -spread / 2][:count]
    return [_results([median * (1 + o)] * 5, state) for o in offsets]


def _latency(old: list[Results], new: list[Results]) -> Check:
    [found] = [c for c in compare(old, new) if c.subject.startswith("inference p50")]
    return found


def test_latency_band_and_noise_floor_between_sets_of_runs() -> None:
    def ok(old: float, new: float) -> bool:
        return _latency(_runs(old, 0.01), _runs(new, 0.01)).ok

    assert ok(1e-3, 1.4e-3) and not ok(1e-3, 1.6e-3) and not ok(1e-3, 0.6e-3)
    assert ok(4e-6, 8e-6)  # 2x, but 4 µs apart: noise
    # a real difference inside the band passes with a warning that says how much slower
    slower = _latency(_runs(1e-3, 0.01), _runs(1.2e-3, 0.01))
    assert slower.ok and slower.warning and slower.verdict.startswith("slower by 20%")
    assert slower.verdict.endswith("3+3 runs)")
    # runs 2 % apart from each other: the same build, within noise
    same = _latency(_runs(1e-3, 0.02), _runs(1.005e-3, 0.02))
    assert same.ok and not same.warning and same.verdict.startswith("within noise")


def test_latency_is_not_judged_from_one_run_or_a_run_that_is_not_valid() -> None:
    one = _latency(_runs(1e-3, count=1), _runs(1.2e-3, count=1))
    assert one.unverified and not one.ok
    assert one.verdict == "x1.20, not judged: 1+1 runs; run-to-run noise needs 3 per side"
    assert one.mark == "UNVERIFIED"
    bad = _latency(_runs(1e-3, 0.01), _runs(1e-3, 0.01, state="INVALID"))
    assert bad.unverified and "not judged: the re-run run 1 of 3 is INVALID" in bad.verdict
    checks = compare(_runs(1e-3, 0.01), _runs(1e-3, 0.01, state="UNVERIFIED"))
    verdicts = next(c for c in checks if c.subject == "run verdicts")
    assert verdicts.unverified and verdicts.reproduced == "3x UNVERIFIED"
    verdict = Verdict(Path("r.json"), Path("new.json"), checks)
    assert verdict.state == "UNVERIFIED"
    assert format_verdict(verdict).splitlines()[-3].startswith("UNVERIFIED: r.json: what was")
