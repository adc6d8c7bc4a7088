r"""Run on the target: receive a model from the host, run inference on request.

The server binds 127.0.0.1 unless told otherwise with ``--host`` (another address needs
``--secret-file``), because it runs whatever model it is sent; every host must prove it
holds the run's secret first (``docs/protocol.md``, "Handshake"). Example::

    python -m kenning.scenarios.inference_server \\
        kenning.runtimeprotocols.network.NetworkProtocol \\
        kenning.runtimes.onnxruntime.ONNXRuntime \\
        --save-model-path build/target/model.onnx --port 12345

Once listening it prints one line, ``listening on <endpoint>``, then serves
hosts one after another until interrupted.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from kenning.runtimeprotocols.frameauth import CHOICES
from kenning.runtimeprotocols.server import InferenceServer
from kenning.scenarios.common import ClassSlot, build_parser, run
from kenning.utils.argtypes import positive_float, positive_int

log = logging.getLogger("kenning.server")

SLOTS = (
    ClassSlot("protocolcls", "protocol", "RuntimeProtocol class to serve on"),
    ClassSlot("runtimecls", "runtime", "Runtime class that runs the received models"),
)


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=600.0,
        help="seconds a connected host may stay silent before it is dropped "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--max-clients",
        type=positive_int,
        default=None,
        help="exit after serving this many hosts (default: serve until interrupted)",
    )
    parser.add_argument(
        "--monitor-interval",
        type=positive_float,
        default=0.2,
        help="seconds between CPU/RAM samples reported to the host (default: %(default)s)",
    )
    parser.add_argument(
        "--handshake-timeout",
        type=positive_float,
        default=10.0,
        help="seconds a host has from connecting to prove it holds the run's secret "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--frame-auth",
        choices=CHOICES,
        default="auto",
        help="how every frame after the handshake is authenticated: auto (aes-gcm, or "
        "hmac-sha256 without the cryptography package), aes-gcm, hmac-sha256, or none "
        "(only on loopback) (default: %(default)s)",
    )
    parser.add_argument(
        "--model-in-server",
        action="store_true",
        help="load and run models in the server's own process, not in one of their own: a "
        "model that crashes then stops the server (for measuring what the process costs)",
    )


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` and serve until interrupted (or ``--max-clients`` hosts)."""
    args, classes = build_parser(
        "python -m kenning.scenarios.inference_server",
        __doc__ or "",
        SLOTS,
        _scenario_arguments,
        argv,
    )
    protocol = classes["protocolcls"].from_argparse(args)
    runtime = classes["runtimecls"].from_argparse(args)
    server = InferenceServer(
        protocol,
        runtime,
        args.idle_timeout,
        args.monitor_interval,
        args.handshake_timeout,
        args.frame_auth,
        not args.model_in_server,
    )
    runtime.check_ready()  # a missing delegate fails now, not when a model arrives
    protocol.initialize_server()
    server.load.start()  # a sampler that cannot start fails before `listening`
    print(f"listening on {protocol.describe()}", flush=True)
    log.info("serving with %s", type(runtime).__name__)
    server.serve(args.max_clients, initialize=False)
    return 0


if __name__ == "__main__":
    run(main)
