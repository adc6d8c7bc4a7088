"""Each model runs in a process of its own: a crash or a hang is an ERROR, not the server's end.

The crashing model is real native code: a shared library whose constructor executes an
illegal instruction (``__builtin_trap``, SIGILL on x86 and arm64) the moment the TVM runtime
opens it, built here with the system's C compiler.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest_protocol import SPEC, full_exchange, model_file, ready_client, server_process

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.errors import RemoteError
from kenning.runtimeprotocols.network import NetworkProtocol

TRAP = "__attribute__((constructor)) static void crash(void) { __builtin_trap(); }\n"


def crashing_library(tmp_path: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("a C compiler (cc) is needed to build the crashing model")
    source = tmp_path / "trap.c"
    source.write_text(TRAP)
    library = tmp_path / "model.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True, timeout=60
    )
    return library


def connected(port: int) -> ProtocolClient:
    client = ProtocolClient(NetworkProtocol(port=port, timeout=30))
    client.connect()
    client.upload_io_spec(SPEC)
    return client


def test_a_model_that_crashes_its_process_is_an_error_naming_the_signal(
    tmp_path: Path,
) -> None:
    library = crashing_library(tmp_path)
    sha256 = hashlib.sha256(library.read_bytes()).hexdigest()
    args = ["network", "tvm", "--port", "0", "--save-model-path", tmp_path / "t" / "model.so"]
    with server_process(args) as server:
        for _ in range(2):  # the same host again, then the next: both are served
            client = connected(server.port)
            with pytest.raises(RemoteError) as crashed:
                client.upload_model(library)
            text = str(crashed.value)
            assert "killed by SIGILL (signal 4) while loading the model" in text, text
            assert sha256 in text
            client.close()
        assert server.proc.poll() is None
        server.wait_for("killed by SIGILL", 10)


def test_a_model_that_crashes_the_server_without_its_own_process(tmp_path: Path) -> None:
    """The same model with --model-in-server: the server dies, as it did before."""
    library = crashing_library(tmp_path)
    args = ["network", "tvm", "--port", "0", "--save-model-path", tmp_path / "t" / "model.so",
            "--model-in-server"]  # fmt: skip
    with server_process(args) as server:
        client = connected(server.port)
        with pytest.raises(Exception):  # noqa: B017 - whatever the dead server leaves
            client.upload_model(library)
        client.close()
        assert server.proc.wait(10) < 0  # killed by its signal


def test_a_model_that_hangs_is_stopped_and_the_session_goes_on(tmp_path: Path) -> None:
    args = ["network", "null", "--port", "0", "--save-model-path", tmp_path / "t" / "m.bin",
            "--inference-time", "3", "--timeout", "1"]  # fmt: skip
    with server_process(args) as server:
        client = ready_client(server.port, tmp_path, timeout=10)
        client.upload_input(bytes(64))
        with pytest.raises(RemoteError, match="did not finish running the model within 1 s"):
            client.request_processing()
        with pytest.raises(RemoteError, match="no model loaded"):  # its process was stopped
            client.upload_input(bytes(64))
        client.upload_io_spec(SPEC)
        client.upload_model(model_file(tmp_path))  # a fresh process
        client.close()
        assert server.proc.poll() is None


def test_the_model_runs_in_a_child_of_the_server(tmp_path: Path) -> None:
    """Its CPU is the run's (the sampler counts the server's descendants), its memory reported."""
    import psutil

    args = ["network", "null", "--port", "0", "--save-model-path", tmp_path / "t" / "m.bin"]
    with server_process(args) as server:
        client = ready_client(server.port, tmp_path)
        children = psutil.Process(server.proc.pid).children()
        models = [c for c in children if "kenning.runtimeprotocols.modelchild" in c.cmdline()]
        assert len(models) == 1
        assert client.target_info["peak_rss_after_load_bytes"] >= models[0].memory_info().rss
        full_exchange(client)
        client.upload_io_spec(SPEC)
        client.upload_model(model_file(tmp_path))  # the next model: a fresh process
        assert not models[0].is_running() or models[0].status() == psutil.STATUS_ZOMBIE
        client.close()
