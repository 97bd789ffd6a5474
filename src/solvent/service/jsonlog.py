"""Structured logs: one JSON object per line (``ts``, ``level``, ``logger``, ``msg`` + extras).

The lines are formatted and written by a background thread (``configure_logging``): the
event loop only hands each record to a queue, so a slow or blocked stderr never stalls a
request. The access log (``AccessLog``) writes one line per HTTP request, or a sample of them.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from typing import Any, TextIO

import msgspec

__all__ = ["AccessLog", "JsonFormatter", "LogWriter", "configure_logging"]

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def _stamp(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second[0]:  # strftime once a second, not once a line
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(msecs):03d}Z"

    def format_access(self, line: AccessLine) -> str:
        """An access-log line, exactly as ``format`` writes the record ``AccessLog`` would log."""
        created = line[0]
        return _encode({
            "ts": self._stamp(created, (created - int(created)) * 1000),  # LogRecord.msecs
            "level": "info", "logger": line[1], "msg": "request", "method": line[2], "route": line[3],
            "path": line[4], "status": line[5], "duration_ms": line[6],
        }).decode("utf-8")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._stamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # rendered before it was queued (``_Enqueue``)
            out["exc"] = record.exc_text
        return _encode(out).decode("utf-8")


_encode = msgspec.json.Encoder().encode

AccessLine = tuple[float, str, str, str, str, int, float]
"""An access-log line as queued: time, logger name, method, route, path, status, duration (ms)."""


class _Enqueue(logging.Handler):
    """Hands each record to the writer thread as it is (formatting happens there). A
    traceback is rendered to text now: its frames may change before the writer runs."""

    def __init__(self, writer: LogWriter) -> None:
        super().__init__()
        self.writer = writer

    def handle(self, record: logging.LogRecord) -> bool:  # no lock: the queue is thread-safe
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.writer.put(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


QUEUED_LINES = 100_000
"""Log records waiting for the writer at most; past that (stderr blocked or too slow) new ones
are dropped and counted, so memory stays bounded and requests never wait for a log line."""


class LogWriter:
    """The thread that formats queued records and writes them to ``stream``: everything
    queued at once goes out in one write and one flush. At most ``capacity`` records wait;
    the writer reports how many it had to drop once it catches up."""

    def __init__(self, stream: TextIO, formatter: logging.Formatter, capacity: int = QUEUED_LINES) -> None:
        self.stream, self.formatter = stream, formatter
        self.lines: queue.Queue[logging.LogRecord | AccessLine | None] = queue.Queue(maxsize=capacity)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="solvent-log-writer", daemon=True)
        self._thread.start()

    def put(self, record: logging.LogRecord | AccessLine) -> None:
        """Queue ``record``, or drop and count it when the queue is full."""
        try:
            self.lines.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        lines, done, reported = self.lines, False, 0
        while not done:
            batch = [lines.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(lines.get_nowait())
            text = []
            if self.dropped != reported:
                text.append(f'{{"level":"warning","logger":"solvent.log","msg":"log lines dropped",'
                            f'"dropped":{self.dropped - reported}}}')
                reported = self.dropped
            for record in batch:
                if record is None:
                    done = True
                    continue
                try:
                    if isinstance(record, logging.LogRecord):
                        text.append(self.formatter.format(record))
                    elif isinstance(self.formatter, JsonFormatter):
                        text.append(self.formatter.format_access(record))
                except Exception:  # a record that cannot be formatted must not stop the logs
                    name = record.name if isinstance(record, logging.LogRecord) else record[1]
                    text.append(f'{{"level":"error","logger":"solvent.log","msg":"unformattable record from '
                                f'{name}"}}')
            if text:
                with contextlib.suppress(OSError, ValueError):  # stderr closed: nowhere left to log
                    self.stream.write("\n".join(text) + "\n")
                    self.stream.flush()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self.lines.put(None)  # waits for room: the end of the queue must not be dropped
        self._thread.join(timeout=5)


def configure_logging(level: int = logging.INFO) -> LogWriter:
    """Send ``solvent`` and ``uvicorn`` logs to stderr as JSON lines, formatted and written by
    a background thread (``LogWriter``): ``stop()`` it at exit to write what is queued."""
    writer = LogWriter(sys.stderr, JsonFormatter())
    handler = _Enqueue(writer)
    for name in ("solvent", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    return writer


def _queue_of(log: logging.Logger) -> _Enqueue | None:
    """The one ``_Enqueue`` handler an INFO record from ``log`` would reach and nothing else, if
    that is so: the logger or the first ancestor with handlers (``configure_logging`` puts them
    on ``solvent``, records come from ``solvent.service``), with no filter and no level on the
    way that could change what is written. Otherwise None, and the record goes the usual way."""
    if not log.isEnabledFor(logging.INFO):
        return None
    owner: logging.Logger | None = log
    while owner is not None and not owner.handlers and owner.propagate:
        if owner.filters:
            return None
        owner = owner.parent
    if owner is None or owner.filters or len(owner.handlers) != 1:
        return None
    handler = owner.handlers[0]
    if (type(handler) is not _Enqueue or handler.filters or handler.level > logging.INFO
            or not isinstance(handler.writer.formatter, JsonFormatter)):
        return None
    return handler


class AccessLog:
    """One ``request`` line per HTTP request, or ``sample`` of them (a fraction in [0, 1]):
    with 0.25 every fourth request is logged, evenly, not at random. An error (status 500
    or above) is always logged."""

    def __init__(self, sample: float = 1.0, logger: logging.Logger | None = None) -> None:
        if not 0 <= sample <= 1:
            raise ValueError(f"access log sample {sample} is not in [0, 1]")
        self.sample = sample
        self._log = logger or logging.getLogger("solvent.service")
        self._credit = 0.0

    def request(self, method: str, route: str, path: str, status: int, elapsed_s: float) -> None:
        if status < 500:
            self._credit += self.sample
            if self._credit < 1:
                return
            self._credit -= 1
        duration_ms = round(elapsed_s * 1000, 3)
        log = self._log
        handler = _queue_of(log)
        if handler is not None:
            # straight to the writer thread (the line it writes is the record's, byte for byte):
            # a LogRecord, its caller lookup and the handler chain were a twentieth of a request
            handler.writer.put((time.time(), log.name, method, route, path, status, duration_ms))
            return
        log.info("request", extra={"method": method, "route": route, "path": path, "status": status,
                                   "duration_ms": duration_ms})
