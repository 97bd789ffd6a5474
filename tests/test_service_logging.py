"""The service's logs: JSON lines written by a background thread, the access log sampled."""

from __future__ import annotations

import io
import json
import logging

import pytest

pytest.importorskip("litestar", reason="the service logs come with the service extra")

from solvent.service.jsonlog import AccessLog, JsonFormatter, LogWriter


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _access(sample: float) -> tuple[AccessLog, _Lines]:
    logger = logging.getLogger(f"test.access.{sample}")
    logger.propagate, logger.handlers[:] = False, [lines := _Lines()]
    logger.setLevel(logging.INFO)
    return AccessLog(sample, logger), lines


@pytest.mark.parametrize(("sample", "logged"), [(1.0, 12), (0.25, 3), (0.5, 6), (0.0, 0)])
def test_a_sample_logs_that_share_of_requests_evenly(sample: float, logged: int) -> None:
    # 12 requests: every one, every fourth (3), every second (6), none
    access, lines = _access(sample)
    for _ in range(12):
        access.request("GET", "/v1/x", "/v1/x", 200, 0.002)
    assert len(lines.records) == logged


def test_errors_are_always_logged() -> None:
    access, lines = _access(0.0)
    access.request("POST", "/v1/prices", "/v1/prices", 503, 0.25)
    access.request("POST", "/v1/prices", "/v1/prices", 429, 0.25)
    assert [r.__dict__["status"] for r in lines.records] == [503]
    assert lines.records[0].__dict__["duration_ms"] == 250.0


def test_a_sample_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not in"):
        AccessLog(1.5)


def test_the_writer_thread_writes_every_queued_line_before_it_stops() -> None:
    out = io.StringIO()
    writer = LogWriter(out, JsonFormatter())
    logger = logging.getLogger("test.writer")
    logger.propagate = False
    from solvent.service.jsonlog import _Enqueue

    logger.handlers[:] = [_Enqueue(writer)]
    logger.setLevel(logging.INFO)
    for i in range(500):
        logger.info("line", extra={"i": i})
    try:
        raise ValueError("bad")
    except ValueError as exc:
        logger.error("failed", exc_info=exc)
    writer.stop()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["i"] for line in lines[:500]] == list(range(500))
    assert lines[-1]["msg"] == "failed" and "ValueError: bad" in lines[-1]["exc"]
    assert lines[0]["logger"] == "test.writer" and lines[0]["level"] == "info" and lines[0]["ts"].endswith("Z")


def test_a_full_queue_drops_and_counts_lines_instead_of_growing() -> None:
    # a stream that blocks until released: the writer takes one batch and waits in write()
    import threading

    released = threading.Event()

    class Blocked(io.StringIO):
        def write(self, text: str) -> int:
            released.wait(10)
            return super().write(text)

    out = Blocked()
    writer = LogWriter(out, JsonFormatter(), capacity=5)
    record = logging.LogRecord("test.full", logging.INFO, __file__, 1, "line", None, None)
    writer.put(record)  # taken by the writer, which then blocks writing it
    for _ in range(200):
        if writer.lines.empty():
            break
        threading.Event().wait(0.01)
    for _ in range(12):  # 5 fit in the queue, 7 are dropped
        writer.put(record)
    assert writer.dropped == 7
    released.set()
    writer.stop()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["msg"] for line in lines].count("line") == 1 + 5
    assert {"msg": "log lines dropped", "dropped": 7}.items() <= next(
        line for line in lines if line["msg"] == "log lines dropped").items()


def test_an_access_line_queued_straight_to_the_writer_is_the_records_line() -> None:
    """``AccessLog`` hands its line to the writer thread without a ``LogRecord`` when the logger
    writes through it (as ``configure_logging`` sets up): the line must be the one the record
    would have given, keys in the same order."""
    from solvent.service.jsonlog import _Enqueue

    class Counting(LogWriter):
        def put(self, record: logging.LogRecord | tuple[object, ...]) -> None:  # type: ignore[override]
            queued.append(type(record).__name__)
            super().put(record)  # type: ignore[arg-type]

    out, queued = io.StringIO(), list[str]()
    writer = Counting(out, JsonFormatter())
    logger = logging.getLogger("test.access.direct")
    logger.propagate, logger.handlers[:] = False, [_Enqueue(writer)]
    logger.setLevel(logging.INFO)
    AccessLog(1.0, logger).request("POST", "/v1/prices", "/v1/prices", 200, 0.0123456)
    logger.info("request", extra={"method": "POST", "route": "/v1/prices", "path": "/v1/prices", "status": 200,
                                  "duration_ms": 12.346})  # the record the slow path logs
    writer.stop()
    assert queued == ["tuple", "LogRecord"]
    direct, record = out.getvalue().splitlines()
    assert direct.startswith('{"ts":"') and direct.split('"level"', 1)[1] == record.split('"level"', 1)[1]
    assert direct.split('"level"', 1)[1] == (':"info","logger":"test.access.direct","msg":"request","method":"POST",'
                                             '"route":"/v1/prices","path":"/v1/prices","status":200,'
                                             '"duration_ms":12.346}')
    stamp = json.loads(direct)["ts"]
    assert len(stamp) == len("2026-12-04T22:30:00.123Z") and stamp.endswith("Z")


def test_the_access_log_of_a_configured_service_goes_straight_to_the_writer() -> None:
    """What ``solvent serve`` sets up: ``configure_logging`` puts the queue handler on the
    ``solvent`` logger and the access log writes from ``solvent.service``, which has no handler
    of its own. The line must still skip the ``LogRecord`` (found through the parent), and a
    filter on the way must send it the usual way, where the filter can act."""
    from solvent.service.jsonlog import configure_logging

    names = ("solvent", "uvicorn", "uvicorn.error")
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level,
                    logging.getLogger(name).propagate) for name in names}
    queued: list[str] = []
    writer = configure_logging()
    real_put = writer.put
    try:
        writer.stream = io.StringIO()
        writer.put = lambda record: (queued.append(type(record).__name__), real_put(record))[1]  # type: ignore[method-assign]
        access = AccessLog(1.0)
        access.request("GET", "/healthz", "/healthz", 200, 0.001)
        assert queued == ["tuple"]
        service = logging.getLogger("solvent.service")
        service.addFilter(lambda record: True)
        try:
            access.request("GET", "/healthz", "/healthz", 200, 0.001)
        finally:
            service.filters.clear()
        assert queued == ["tuple", "LogRecord"]
    finally:
        writer.stop()
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)
