"""send_all: one send() when the buffer fits, the rest sent in order when the kernel takes less."""

from __future__ import annotations

from esb_runtime.sockets import send_all


class Narrow:
    """A socket whose send() takes at most `room` bytes per call."""

    def __init__(self, room: int) -> None:
        self.room, self.calls, self.received = room, 0, b""

    def send(self, data: bytes | memoryview) -> int:
        self.calls += 1
        taken = bytes(data[:self.room])
        self.received += taken
        return len(taken)


def test_a_buffer_that_fits_goes_in_one_send() -> None:
    sock = Narrow(room=1 << 20)
    send_all(sock, b"head and body")
    assert sock.calls == 1 and sock.received == b"head and body"


def test_a_buffer_that_does_not_fit_is_sent_whole_in_order() -> None:
    data = bytes(range(256)) * 40
    sock = Narrow(room=1000)
    send_all(sock, data)
    assert sock.received == data and sock.calls == 11
