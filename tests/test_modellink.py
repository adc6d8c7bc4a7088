"""The link between the server and a model's process, over a real socket pair."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from kenning.runtimeprotocols.modellink import LinkClosedError, ModelLink


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    server, model = ModelLink(ours), ModelLink(theirs, spin=0.0)
    yield server, model
    server.close()
    model.close()


def test_messages_that_arrive_together_are_received_one_by_one(pair) -> None:
    """One read may bring the next message's start: it is kept for the next receive."""
    server, model = pair
    for code, payload in ((1, b"first"), (3, b""), (2, os.urandom(70_000)), (0, b"last")):
        server.send(code, payload, 5.0)
    got = []
    for _ in range(4):  # a payload is valid until the next receive: copied at once
        code, view = model.receive(5.0)
        got.append((code, bytes(view)))
    assert got[:2] == [(1, b"first"), (3, b"")]
    assert got[2][0] == 2 and len(got[2][1]) == 70_000
    assert got[3] == (0, b"last")


def test_a_payload_larger_than_the_buffer_grows_it_and_arrives_whole(pair) -> None:
    server, model = pair
    payload = os.urandom(3 << 20)  # several reads, sent while the other end reads
    sender = threading.Thread(target=server.send, args=(5, payload, 10.0))
    sender.start()
    code, view = model.receive(10.0)
    sender.join()
    assert code == 5 and bytes(view) == payload


def test_a_request_and_reply_round_trip_and_a_close_is_seen(pair) -> None:
    server, model = pair

    def answer() -> None:
        code, view = model.receive(5.0)
        model.send(code + 1, bytes(view)[::-1], 5.0)

    thread = threading.Thread(target=answer)
    thread.start()
    server.send(1, b"abc", 5.0)
    code, view = server.receive(5.0)
    assert (code, bytes(view)) == (2, b"cba")
    thread.join()
    model.close()
    with pytest.raises(LinkClosedError):
        server.receive(5.0)


def test_nothing_within_the_timeout_is_a_timeout(pair) -> None:
    _, model = pair
    with pytest.raises(TimeoutError):
        model.receive(0.05)
