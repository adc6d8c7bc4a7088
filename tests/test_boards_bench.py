"""`invoke bench --board NAME` over SSH against real sshd boards, and the faults it survives."""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from conftest_boards import (  # noqa: F401 - fixtures
    SMALL_TMPFS,
    TestBoard,
    amd64_board,
    arm64_board,
    board_client_key,
    board_factory,
    free_port,
    generate_client_key,
    restart_board,
    write_inventory,
)
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures
from conftest_sshd import Sshd, sshd  # noqa: F401 - fixtures
from conftest_tasks import build, invoke, invoke_background  # noqa: F401 - fixtures

from kenning.core.measure import MeasureSettings
from kenning.core.results import ResultsError, load_results

pytestmark = [pytest.mark.ssh, pytest.mark.docker]

TUNNELLED = {"protocol": {"kind": "network", "port": 12345, "tunnel": "always"}}


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _failed(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr[-3000:])
    return done.stderr


@pytest.mark.slow
def test_bench_tvm_aarch64_and_tflite_int8_on_the_emulated_arm64_board(
    build: Path, arm64_board: TestBoard, tmp_path: Path
) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", [arm64_board], **TUNNELLED)
    done = invoke("bench", "--repeats", "1",
                  "--board", arm64_board.name, "--deployment", "torch-tvm",
                  "--deployment", "tf-tflite-int8", "--executor", "docker", "--build", str(build),
                  inventory=inventory)  # fmt: skip
    _ok(done)
    where = ROOT / build
    elf = subprocess.run(["file", str(where / "compiled" / "torch-tvm-arm64.so")],
                         capture_output=True, text=True).stdout  # fmt: skip
    assert "ARM aarch64" in elf
    for name in ("torch-tvm", "tf-tflite-int8"):
        res = load_results(where / "results" / arm64_board.name / f"{name}.json")
        assert res.status == "complete" and len(res.samples) == 1000
        assert len(res.distinct_samples()) == 450
        assert res.metrics is not None and res.metrics.accuracy > 0.9, name
        server = res.provenance["server"]
        assert server["kind"] == "ssh" and server["arch"] == "arm64"
        assert res.provenance["board"] == arm64_board.name
        assert all(s.ok_interval_s is not None for s in res.samples)  # through the protocol
        assert "compile" in res.provenance["steps"]  # compiled in its image
        log = (where / "boards" / arm64_board.name / name / "server.log").read_text()
        assert "listening on" in log
    assert (where / "reports" / arm64_board.name / "index.html").is_file()


def test_a_board_added_by_hand_is_benchmarked(
    build: Path, amd64_board: TestBoard, tmp_path: Path
) -> None:
    # only YAML: the board on Docker's bridge, its server exposed there and reached directly
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"""
boards:
  local:
    deploy: local
    runtimes: [tflite, onnxruntime, tvm]
  bench-by-hand:
    host: {amd64_board.container_ip}
    user: kenning
    key: {amd64_board.key}
    known_hosts: {amd64_board.known_hosts}
    arch: x86_64
    workdir: /home/kenning/by-hand
    runtimes: [tflite]
    protocol: {{port: 23456, expose: true}}
""")
    listing = invoke("boards", inventory=inventory)
    _ok(listing)
    assert "bench-by-hand" in listing.stdout
    done = invoke("bench", "--repeats", "1", "--board", "bench-by-hand", "--build", str(build),
                  "--executor", "local", inventory=inventory)  # fmt: skip
    _ok(done)
    results = sorted((ROOT / build / "results" / "bench-by-hand").glob("*.json"))
    assert {p.stem for p in results} == {"tf-tflite", "tf-tflite-int8"}  # its runtimes only
    for path in results:
        res = load_results(path)
        assert res.status == "complete" and res.metrics and res.metrics.accuracy > 0.9
        command = res.provenance["steps"]["benchmark"]["command"]
        assert command[command.index("--host") + 1] == amd64_board.container_ip  # direct


def test_unreachable_board_names_board_and_step(build: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"boards": {
        "local": {"deploy": "local", "runtimes": ["tflite"]},
        "gone": {"host": "127.0.0.1", "port": free_port(), "user": "kenning", "arch": "amd64",
                 "key": str(generate_client_key(tmp_path)), "runtimes": ["tflite"]},
    }}))  # fmt: skip
    done = invoke("bench", "--repeats", "1",
                  "--board", "gone", "--deployment", "tf-tflite", "--executor", "local",
                  "--build", str(build), inventory=inventory)  # fmt: skip
    _failed(done, "board 'gone', connecting", "refused")
    # found before anything was compiled or run for it
    assert not (ROOT / build / "compiled").exists() and not (ROOT / build / "results").exists()


def test_refused_key_names_board_and_user(
    build: Path, amd64_board: TestBoard, tmp_path: Path
) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", [amd64_board], **TUNNELLED)
    data = yaml.safe_load(inventory.read_text())
    (tmp_path / "other").mkdir()
    data["boards"][amd64_board.name]["key"] = str(generate_client_key(tmp_path / "other"))
    inventory.write_text(yaml.safe_dump(data))
    done = invoke("bench", "--repeats", "1",
                  "--board", amd64_board.name, "--deployment", "tf-tflite",
                  "--executor", "local", "--build", str(build), inventory=inventory)  # fmt: skip
    _failed(done, f"board '{amd64_board.name}', connecting", "user 'kenning'", "refused")


def test_changed_host_key_is_refused_with_what_to_do(
    build: Path, board_factory: Any, tmp_path: Path
) -> None:
    board = board_factory("amd64")
    inventory = write_inventory(tmp_path / "inventory.yaml", [board], **TUNNELLED)
    restart_board(board)  # a new host key; known_hosts keeps the old one
    done = invoke("bench", "--repeats", "1", "--board", board.name, "--deployment", "tf-tflite",
                  "--executor", "local", "--build", str(build), inventory=inventory)  # fmt: skip
    err = _failed(done, f"board '{board.name}'", "CHANGED", "ssh-keygen -R")
    assert "results" not in err.split("bench failed")[0]  # nothing benchmarked


def test_no_space_left_while_pushing(build: Path, board_factory: Any, tmp_path: Path) -> None:
    board = board_factory("amd64", tmpfs=SMALL_TMPFS)
    small = next(iter(SMALL_TMPFS))
    filled = board.container.exec_run(
        ["dd", "if=/dev/zero", f"of={small}/filler", "bs=1k", "count=900"], user="kenning"
    )
    assert filled.exit_code == 0, filled.output
    inventory = write_inventory(tmp_path / "inventory.yaml", [board], workdir=small, **TUNNELLED)
    done = invoke("bench", "--repeats", "1", "--board", board.name, "--deployment", "tf-tflite",
                  "--executor", "local", "--build", str(build), inventory=inventory)  # fmt: skip
    _failed(done, f"board '{board.name}', pushing kenning-server-", "no space left")


def _samples(path: Path) -> int:
    try:
        return len(load_results(path).samples)
    except ResultsError:  # not written yet
        return 0


# the slow run's 450 digits once each, then as many calls as its percentiles' intervals need
SLOW_COMPLETE = MeasureSettings(min_samples=450).required(450, 1)[0]


def _slow_run(build: Path, board: TestBoard, tmp_path: Path) -> tuple[Path, list[str], Path]:
    """A run slow enough to interrupt: the null runtime, 20 ms a call, about 13 s.

    Returns the inventory, the `invoke` arguments and the results file.
    """
    inventory = write_inventory(
        tmp_path / "inventory.yaml", [board], runtimes=["tflite", "null"],
        runtime_args={"null": ["--inference-time", "0.02"]}, **TUNNELLED,
    )  # fmt: skip
    scenario = tmp_path / "null.yaml"
    scenario.write_text(
        "name: slow\nmodels:\n  tensorflow: {wrapper: tf-digits-cnn, train: {epochs: 1}}\n"
        "dataset: {class: digits}\nreference: false\ndeployments:\n"
        "  tensorflow-tflite-null: {model: tensorflow, chain: [tflite], runtime: 'null'}\n"
    )
    args = ["bench", "--repeats", "1",
            "--scenario", str(scenario), "--board", board.name, "--executor", "local",
            "--build", str(build), "--min-samples", "450"]  # fmt: skip
    return inventory, args, ROOT / build / "results" / board.name / "tensorflow-tflite-null.json"


def _start_and_wait_for_samples(
    args: list[str], inventory: Path, results: Path
) -> subprocess.Popen[str]:
    """Start the run; return once its results file holds some samples (or it ended)."""
    proc = invoke_background(*args, inventory=inventory)
    deadline = time.monotonic() + 120
    while _samples(results) < 20 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc


def test_server_dying_mid_run_keeps_samples_and_resume_finishes(
    build: Path, amd64_board: TestBoard, tmp_path: Path
) -> None:
    inventory, args, results = _slow_run(build, amd64_board, tmp_path)
    proc = _start_and_wait_for_samples(args, inventory, results)
    killed = amd64_board.container.exec_run(["pkill", "-KILL", "-f", "inference_server"])
    assert killed.exit_code == 0, "the server was not running"
    out, err = proc.communicate(timeout=120)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    _failed(done, f"board '{amd64_board.name}', benchmarking tensorflow-tflite-null",
            "completed samples kept", "--resume")  # fmt: skip
    partial = load_results(results)
    assert partial.status == "partial" and 0 < len(partial.samples) < SLOW_COMPLETE
    assert partial.provenance["board"] == amd64_board.name

    _ok(invoke(*args, "--resume", inventory=inventory))
    resumed = load_results(results)
    assert resumed.status == "complete" and len(resumed.samples) == SLOW_COMPLETE
    assert resumed.provenance["resumed"] == {"kept_samples": len(partial.samples)}
    assert resumed.samples[: len(partial.samples)] == partial.samples
    assert len({s.index for s in resumed.samples}) == 450


def test_image_deploy_runs_the_target_image_on_a_docker_board(
    build: Path, sshd: Sshd, tmp_path: Path, require_image: Any
) -> None:
    # this machine over SSH is a board with Docker: the server runs in kenning/target-amd64,
    # published on loopback and reached through the tunnel
    require_image("target-amd64")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"boards": {
        "local": {"deploy": "local", "runtimes": ["tflite"]},
        "docker-board": {"host": sshd.host, "port": sshd.port, "user": sshd.user,
                         "key": str(sshd.key), "known_hosts": str(sshd.known_hosts),
                         "arch": "amd64", "deploy": "image", "workdir": str(tmp_path / "wd"),
                         "runtimes": ["tflite"],
                         "protocol": {"port": free_port()}}}}))  # fmt: skip
    done = invoke("bench", "--repeats", "1",
                  "--board", "docker-board", "--deployment", "tf-tflite",
                  "--executor", "local", "--build", str(build), inventory=inventory)  # fmt: skip
    _ok(done)
    res = load_results(ROOT / build / "results" / "docker-board" / "tf-tflite.json")
    assert res.status == "complete" and res.metrics and res.metrics.accuracy > 0.9
    assert res.provenance["server"]["deploy"] == "image"
    log = (ROOT / build / "boards" / "docker-board" / "tf-tflite" / "server.log").read_text()
    assert "listening on" in log


def test_image_stream_goes_through_ssh_into_docker_load(sshd: Sshd, docker_client: Any) -> None:
    from kenning.boards.deploy import _stream_load
    from kenning.executors.ssh.executor import SSHExecutor

    image = docker_client.images.get("kenning/python-base:bookworm-amd64")
    with SSHExecutor(sshd.host, port=sshd.port, user=sshd.user, key_filename=sshd.key,
                     known_hosts=sshd.known_hosts, board="docker-board") as board:  # fmt: skip
        _stream_load(board, image.save(named=True), int(image.attrs["Size"]), "pushing")
        loaded = board.output(
            "docker image inspect --format '{{.Id}}' kenning/python-base:bookworm-amd64", "check"
        )
    assert loaded.strip() == image.id


def test_ctrl_c_stops_the_server_on_the_board_and_keeps_samples(
    build: Path, amd64_board: TestBoard, tmp_path: Path
) -> None:
    import signal

    inventory, args, results = _slow_run(build, amd64_board, tmp_path)
    proc = _start_and_wait_for_samples(args, inventory, results)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does to the foreground process
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    running = amd64_board.container.exec_run(["pgrep", "-f", "inference_server"])
    assert running.exit_code == 1, running.output  # nothing left on the board
    partial = load_results(results)
    assert partial.status == "partial" and 0 < len(partial.samples) < SLOW_COMPLETE
    assert (ROOT / build / "boards" / amd64_board.name / "tensorflow-tflite-null"
            / "server.log").is_file()  # fmt: skip


def test_a_killed_host_leaves_no_server_on_the_board(
    build: Path, amd64_board: TestBoard, tmp_path: Path
) -> None:
    inventory, args, results = _slow_run(build, amd64_board, tmp_path)
    proc = _start_and_wait_for_samples(args, inventory, results)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()  # no cleanup here: the SSH connection just ends
    proc.communicate(timeout=60)
    start = time.monotonic()
    while amd64_board.container.exec_run(["pgrep", "-f", "inference_server"]).exit_code == 0:
        assert time.monotonic() - start < 10, "the board's server outlived its SSH session"
        time.sleep(0.2)
