"""A board whose protocol is serial, benched end to end by ``invoke bench``.

The board is this machine's ``inference_server`` on one end of a pseudo-terminal pair (a
null-modem cable); the host talks on the other end, directly or through ser2net on TCP, as a
lab's exporter serves a UART.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
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
        done = invoke("bench", "--scenario", str(scenario), "--board", "uart", "--executor",
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
