"""What a host's requests do to its model on the target: the state between them, and replies.

:class:`ModelRequests` holds the model of the session (in its own process, see
:mod:`~kenning.runtimeprotocols.modelworker`), whether an input and an output are ready, and
the load the target reports; the server decides who is served, and hands each request here.
A request out of order is a :class:`RequestError`, whose text is the host's ``ERROR``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable

from pydantic import ValidationError

from kenning.core.iospec import IOSpec
from kenning.core.runtimeprotocol import Buffer
from kenning.runtimeprotocols.framed import FramedProtocol
from kenning.runtimeprotocols.loading import receive_model
from kenning.runtimeprotocols.modelinline import InlineModel
from kenning.runtimeprotocols.modelworker import ModelWorker
from kenning.runtimeprotocols.store import store_bytes
from kenning.runtimeprotocols.targetload import TargetLoad
from kenning.runtimeprotocols.wire import FrameHeader, MessageType
from kenning.utils.errors import KenningError

#: payload of the second OK to PROCESS: on-target inference time in seconds
TARGET_TIME = struct.Struct("<d")


class RequestError(KenningError):
    """A request the server cannot fulfil; its text becomes the ERROR reply."""


class ModelRequests:
    """The host's model and the requests that use it.

    Parameters
    ----------
    protocol : FramedProtocol
        The transport (``PROCESS`` answers its first ``OK`` before the inference).
    model : ModelWorker or InlineModel
        Where models load and run.
    monitor_interval : float
        Seconds between the load samples ``STATS`` reports.
    """

    def __init__(
        self,
        protocol: FramedProtocol,
        model: ModelWorker | InlineModel,
        monitor_interval: float,
    ) -> None:
        self.protocol = protocol
        self.model = model
        #: the I/O specification the host sent last
        self.spec: IOSpec | None = None
        self._sample_bytes = 0  # bytes of one sample of the spec's inputs (0: not known)
        #: inference times and the load series reported by STATS
        self.load = TargetLoad(monitor_interval, model.peak_rss_bytes)
        self._handlers: dict[MessageType, Callable[[Buffer], bytes]] = {
            MessageType.DATA: self.data,
            MessageType.PROCESS: self.process,
            MessageType.OUTPUT: self.output,
            MessageType.STATS: self.stats,
            MessageType.IOSPEC: self.io_spec,
        }
        self.forget()

    def forget(self) -> None:
        """No model, input or output any more (its process, if any, ends)."""
        self.model_loaded = self.input_ready = self.output_ready = False
        self.model.stop()

    def check_model(self) -> None:
        """After a failed request: forget a model whose process is gone."""
        if self.model_loaded and not self.model.loaded:
            self.forget()

    def dispatch(self, type_: MessageType, payload: Buffer) -> bytes:
        """The OK payload for a request (all but ``MODEL``, see :meth:`receive_model`).

        Raises
        ------
        RequestError
            If the request is a reply, or comes out of order.
        Exception
            Whatever the model raised (the server turns it into an ERROR).
        """
        handler = self._handlers.get(type_)
        if handler is None:
            raise RequestError(f"unexpected {type_.name} from the host: it is a reply")
        return handler(payload)

    def data(self, payload: Buffer) -> bytes:
        if not self.model_loaded:
            raise RequestError("no model loaded: send IOSPEC and MODEL before DATA")
        self.input_ready = self.output_ready = False
        if self.spec is not None:  # the model's process checks the rest
            per_sample = self._sample_bytes
            if not payload or (per_sample and len(payload) % per_sample):
                raise RequestError(
                    f"input of {len(payload)} bytes is not a whole number of "
                    f"{per_sample}-byte samples"
                )
        self.model.prepare_input(payload)
        self.input_ready = True
        return b""

    def process(self, payload: Buffer) -> bytes:
        if not self.input_ready:
            raise RequestError("no input: send DATA before PROCESS")
        self.protocol.send_message(MessageType.OK)  # inference starts
        elapsed = self.model.run()
        self.load.inference_times.append(elapsed)
        self.output_ready = True
        return TARGET_TIME.pack(elapsed)

    def output(self, payload: Buffer) -> bytes:
        if not self.output_ready:
            raise RequestError("no output: send PROCESS before OUTPUT")
        return self.model.upload_output()

    def stats(self, payload: Buffer) -> bytes:
        return json.dumps(self.load.report(), separators=(",", ":")).encode()

    def io_spec(self, payload: Buffer) -> bytes:
        try:
            spec = IOSpec.model_validate_json(bytes(payload))
        except ValidationError as exc:
            raise RequestError(f"malformed I/O specification: {exc}") from exc
        path = self.model.save_model_path
        store_bytes(spec.path_for(path), spec.model_dump_json(indent=2).encode())
        self.forget()
        self.spec = spec
        self._sample_bytes = sum(t.sample_size() for t in spec.inputs)
        return b""

    def input_view(self, header: FrameHeader) -> memoryview | None:
        """Where a ``DATA`` that ``header`` starts is received to, when not a new buffer.

        The memory the model's process reads its input from: no copy on the way. The
        previous input is gone once a ``DATA`` starts, whether or not it arrives whole.

        Raises
        ------
        MemoryError
            If that memory cannot grow to the input's size.
        """
        if header.type != MessageType.DATA or not self.model_loaded or not header.message_length:
            return None
        self.input_ready = self.output_ready = False
        return self.model.input_view(header.message_length)

    def receive_model(self, header: FrameHeader) -> None:
        """Receive, store and load the ``MODEL`` that ``header`` starts; answer the host."""
        self.forget()
        self.model_loaded = receive_model(self.protocol, self.model, header)
