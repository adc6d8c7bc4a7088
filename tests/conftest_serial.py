"""Serial lines for tests: a pseudo-terminal pair (PtyLink) and ser2net serving one end on TCP."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest_protocol import stop_process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def ser2net(device: str, folder: Path, baud: int = 115200) -> Iterator[str]:
    """Serve ``device`` on a loopback TCP port with Debian's ser2net; yield its socket:// URL."""
    port = free_port()
    config = folder / f"ser2net-{port}.yaml"
    config.write_text(
        "connection: &uart\n"
        f"  accepter: tcp(nodelay),127.0.0.1,{port}\n"
        f"  connector: serialdev,{device},{baud}n81,local\n"
        "  options:\n    kickolduser: true\n    chardelay: false\n"
    )
    proc = subprocess.Popen(
        ["ser2net", "-n", "-u", "-c", str(config), "-P", str(folder / f"ser2net-{port}.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "ser2net exited"
                assert time.monotonic() < deadline, "ser2net did not listen within 10 s"
                time.sleep(0.05)
        yield f"socket://127.0.0.1:{port}"
    finally:
        stop_process(proc)
