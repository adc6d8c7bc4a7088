"""Serial efficiency on a pseudo-terminal link paced like a UART at 115200 baud, 8N1.

A pseudo-terminal has no line rate of its own, so the two ends are joined by
:class:`kenning.runtimeprotocols.ptylink.PtyLink`, which delivers at most
baudrate / 10 bytes per second each way, as a UART does. The server runs
``inference_server serial null`` on one end; this process uploads a model and runs
sample exchanges on the other. Efficiency = payload bytes per second / line rate
(11,520 B/s at 115200 baud). Goal: >= 90% (model upload).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from protocol_common import emit, float_spec, server

from kenning.runtimeprotocols.client import ProtocolClient
from kenning.runtimeprotocols.ptylink import PtyLink
from kenning.runtimeprotocols.serial import SerialProtocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--baudrate", type=int, default=115200)
    parser.add_argument("--model-kib", type=int, default=48)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--input-floats", type=int, default=256, help="1 KiB inputs")
    args = parser.parse_args()
    line_rate = args.baudrate / 10
    size = args.model_kib << 10
    with PtyLink(args.baudrate) as (target_end, host_end), tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.bin"
        model.write_bytes(os.urandom(size))
        with server("serial", ["--port", target_end, "--baudrate", str(args.baudrate)]):
            protocol = SerialProtocol(host_end, args.baudrate)
            with ProtocolClient(protocol) as client:
                client.upload_io_spec(float_spec(args.input_floats, 10))
                start = time.perf_counter()
                client.upload_model(model)
                upload_s = time.perf_counter() - start
                data = bytes(args.input_floats * 4)
                start = time.perf_counter()
                for _ in range(args.samples):
                    client.upload_input(data)
                    client.request_processing()
                    output = client.download_output()
                    client.download_statistics()
                exchange_s = (time.perf_counter() - start) / args.samples
    exchange_payload = len(data) + len(output)
    emit(
        {
            "baudrate": args.baudrate,
            "line_rate_B_per_s": line_rate,
            "model_bytes": size,
            "upload_s": round(upload_s, 3),
            "upload_payload_B_per_s": round(size / upload_s, 1),
            "upload_efficiency": round(size / upload_s / line_rate, 4),
            "exchange_payload_bytes": exchange_payload,
            "exchange_ms": round(exchange_s * 1e3, 2),
            "exchange_efficiency": round(exchange_payload / exchange_s / line_rate, 4),
            "cpu_count": os.cpu_count(),
        }
    )


if __name__ == "__main__":
    main()
