"""One socket write per HTTP response, where the server is known to allow it.

uvicorn's httptools protocol writes a response's status line and headers to the socket when
the app sends ``http.response.start``, and the body in a second write when it sends
``http.response.body``: two ``send()`` system calls for every answer. py-spy on the server put
those two writes at over a quarter of its busy time on a margin read (issue "Service at venue
throughput": one write per response).

``one_write`` wraps the server's ``send`` of one request so that the head is collected instead
of written, and written together with the first body message, in one ``transport.write``. It
does so only under uvicorn's ``httptools`` ``RequestResponseCycle`` (``solvent serve``'s
setting) holding the attributes it relies on; anywhere else (another server, the in-process
test client) ``send`` is returned as it is. The bytes on the wire are the server's own, in the
same order: only the number of writes changes.

While the server's ``send`` runs, its ``transport`` attribute is a collector. That ``send`` awaits
nothing once its flow-control wait is done, and that wait is done here first, so no other code
runs while the collector is in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["one_write"]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_CYCLE = "uvicorn.protocols.http.httptools_impl.RequestResponseCycle"
_NEEDS = ("transport", "flow", "disconnected", "response_started")


class _Collector:
    """Stands in for the transport while the server's ``send`` runs: keeps what it writes (in
    ``parts``, the response's head collected so far first). When the server closes it (the last
    body part of a response that does not keep the connection alive: ``Connection: close``,
    HTTP/1.0, a server shutting down), what it wrote goes out first, then the close, at the moment
    the server made it: before its ``on_response`` callback, which starts no pipelined request
    on a closing connection."""

    __slots__ = ("cycle", "parts", "transport")

    def __init__(self, cycle: Any, transport: Any, parts: list[bytes]) -> None:
        self.cycle, self.transport, self.parts = cycle, transport, parts

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def flush(self) -> None:
        """Write what was collected, in one write (nothing to a client that went away)."""
        data = b"".join(self.parts)
        self.parts.clear()
        if data and not self.cycle.disconnected:
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()


def _cycle_of(send: Any) -> Any | None:
    owner = getattr(send, "__self__", None)
    kind = type(owner)
    if f"{kind.__module__}.{kind.__qualname__}" != _CYCLE or not all(hasattr(owner, a) for a in _NEEDS):
        return None
    return owner


def one_write(scope: MutableMapping[str, Any], send: Any) -> Any:
    """``send`` for one HTTP request, writing the response's head with its first body message
    (module docstring); ``send`` itself where that is not known to be right."""
    if scope.get("type") != "http":
        return send
    cycle = _cycle_of(send)
    if cycle is None:
        return send
    head: list[bytes] = []

    async def sent_once(message: MutableMapping[str, Any]) -> None:
        kind = message.get("type")
        if kind != "http.response.start" and not (kind == "http.response.body" and head):
            await send(message)  # a later body part, or anything else: as the server does it
            return
        flow = cycle.flow
        if flow.write_paused and not cycle.disconnected:
            await flow.drain()  # the wait the server's send would make, made before the swap
        transport = cycle.transport
        cycle.transport = _Collector(cycle, transport, head)
        held = False
        try:
            await send(message)  # no await is left in it: nothing else runs meanwhile
            held = kind == "http.response.start"
        finally:
            collector, cycle.transport = cycle.transport, transport
            if not held:  # the body, or the server's send raised: what it wrote goes out, as it would have
                collector.flush()

    return sent_once
