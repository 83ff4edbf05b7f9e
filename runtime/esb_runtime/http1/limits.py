"""How long and how much one HTTP/1.1 connection may take: the gateway's limits, also used by the manager's API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    """Per gateway worker. Defaults: generous for a plant network, small enough that one host cannot starve others."""

    handshake_timeout_s: float = 5.0  # TCP accepted → TLS done; idle or slow handshakes are cut here
    header_timeout_s: int = 10  # request line + headers, and idle keep-alive between requests
    io_timeout_s: float = 30.0  # any single read or write that makes no progress (slow body, slow reader)
    per_source: int = 256  # open connections from one address (a NAT or a busy client: 200 at once must fit)
    total: int = 4000  # open connections in one worker (gevent pool size; the rest wait in the backlog)
    noise_interval_s: float = 60.0  # one log line per source and interval for failed handshakes and bad requests
    # The request head, as gunicorn bounded it: a longer target is 414, more or longer header fields 431.
    request_line_bytes: int = 4094
    header_fields: int = 100
    header_field_bytes: int = 8190
    # Requests read ahead of their answers (pipelining): one receive of tiny requests must not become thousands
    # of environs; the one past this is refused (429) after the ones before it are answered.
    pipelined: int = 64
    # An unread request body (a 413, a refused call) up to this size is read and dropped to keep the connection;
    # a longer one ends it (the client is not made to upload what nobody reads) ...
    discard_bytes: int = 65536
    # ... after a lingering read of at most this much and this long, so that closing on a client still sending
    # does not reset the connection before it has read the answer.
    linger_bytes: int = 8 * 1024 * 1024
    linger_s: float = 2.0

    @property
    def head_bytes(self) -> int:
        """What a request head may take before the parser has seen all of it (a header that never ends)."""
        return self.request_line_bytes + self.header_fields * (self.header_field_bytes + 2) + 2
