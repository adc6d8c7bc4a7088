"""A board whose protocol is serial, benched end to end by ``invoke bench``.

The board is this machine's ``inference_server`` on one end of a pseudo-terminal pair (a
null-modem cable); the host talks on the other end, directly or through ser2net on TCP, as a
lab's exporter serves a UART.
"""

# ruff: noqa: F811 - pytest fixtures imported from conftest modules are redefined as arguments

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from conftest_boards import TestBoard, amd64_board, board_client_key, write_inventory  # noqa: F401
from conftest_docker import docker_client, require_image  # noqa: F401 - fixtures
from conftest_serial import ser2net
from conftest_tasks import invoke
from ownmodels import onnx_mlp

from kenning.core.results import load_results
from kenning.runtimeprotocols.ptylink import PtyLink


@pytest.fixture
def line() -> Iterator[tuple[str, str]]:
    with PtyLink() as ends:
        yield ends


@pytest.mark.slow
@pytest.mark.parametrize("through", ["device", "ser2net"])
def test_a_serial_board_is_benched_end_to_end(
    tmp_path: Path, line: tuple[str, str], through: str
) -> None:
    onnx_mlp(tmp_path / "mlp")
    scenario = tmp_path / "uart.yaml"
    scenario.write_text(
        "name: uart\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\n  tvm: {chain: [tvm], runtime: tvm}\n"
        "measure: {min-samples: 200}\n"
    )
    board_end, host_end = line
    with ExitStack() as stack:
        if through == "ser2net":
            host_end = stack.enter_context(ser2net(host_end, tmp_path))
        inventory = tmp_path / "inventory.yaml"
        entry = {"deploy": "local", "runtimes": ["onnxruntime", "tvm"],
                 "protocol": {"kind": "serial", "device": host_end,
                              "board_device": board_end, "baud": 115200}}  # fmt: skip
        inventory.write_text(yaml.safe_dump({"default": "uart", "boards": {"uart": entry}}))
        build = tmp_path / "build"
        done = invoke("bench", "--repeats", "1",
                      "--scenario", str(scenario), "--board", "uart", "--executor",
                      "local", "--build", str(build), inventory=inventory)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for name in ("ort", "tvm"):
        results = load_results(build / "results" / "uart" / f"{name}.json")
        assert results.status == "complete" and len(results.samples) >= 200
        assert results.agreement is not None and results.agreement.agrees
        assert results.provenance["server"]["protocol"].startswith(f"serial {host_end}")
        steps = results.provenance["steps"]["benchmark"]
        assert steps["parameters"]["protocol"] == "serial"
        assert steps["parameters"]["port"] == host_end
    assert (build / "reports" / "uart" / "index.html").is_file()


#: runs in the board container: a pseudo-terminal whose other end is a TCP port, as a board's
#: UART reaches a lab machine (here the board's end is /tmp/ttyKENNING)
_UART_BRIDGE = """
import os, pty, select, socket, tty
master, slave = pty.openpty()
tty.setraw(slave)
os.chmod(os.ttyname(slave), 0o666)
if os.path.lexists("/tmp/ttyKENNING"):
    os.unlink("/tmp/ttyKENNING")
os.symlink(os.ttyname(slave), "/tmp/ttyKENNING")
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 4555))
server.listen(1)
while True:
    peer, _ = server.accept()
    while True:
        ready, _, _ = select.select([master, peer], [], [])
        if master in ready:
            peer.sendall(os.read(master, 65536))
        if peer in ready:
            data = peer.recv(65536)
            if not data:
                break
            os.write(master, data)
    peer.close()
"""


@pytest.mark.slow
@pytest.mark.ssh
@pytest.mark.docker
def test_a_serial_board_reached_over_ssh_is_benched(
    amd64_board: TestBoard, tmp_path: Path
) -> None:
    """The server started over SSH on the board's UART; the host on the line's other end."""
    board = amd64_board
    board.container.exec_run(["python3", "-c", _UART_BRIDGE], detach=True)
    url = f"socket://{board.container_ip}:4555"
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection((board.container_ip, 4555), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the UART bridge did not start on the board"
            time.sleep(0.2)
    onnx_mlp(tmp_path / "mlp")
    scenario = tmp_path / "uart.yaml"
    scenario.write_text(
        "name: uart\nmodel: {file: mlp/mlp.onnx}\ndataset: {folder: mlp/data}\n"
        "deployments:\n  ort: {runtime: onnxruntime}\nmeasure: {min-samples: 200}\n"
    )
    inventory = write_inventory(
        tmp_path / "inventory.yaml", [board],
        protocol={"kind": "serial", "device": url, "board_device": "/tmp/ttyKENNING",
                  "baud": 115200},
    )  # fmt: skip
    build = tmp_path / "build"
    done = invoke("bench", "--repeats", "1",
                  "--scenario", str(scenario), "--board", board.name, "--executor",
                  "local", "--build", str(build), inventory=inventory)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = load_results(build / "results" / board.name / "ort.json")
    assert results.status == "complete" and results.agreement is not None
    assert results.agreement.agrees
    assert results.provenance["server"]["protocol"] == f"serial {url} at 115200 baud"
    assert results.provenance["steps"]["benchmark"]["parameters"]["protocol"] == "serial"
