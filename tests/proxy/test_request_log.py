"""The JSON request log's sink: off the request path (a thread writes), bounded (drops
counted and logged once), drained on close, never a secret nor message content."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from gatewise.record import RequestRecord
from gatewise.telemetry.request_log import RequestLog


class Gate(io.BytesIO):
    """An output that holds every write until it is opened."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.open.wait(10)
        return super().write(data)


def record(n: int) -> RequestRecord:
    r = RequestRecord(f"call-{n}", "chat", 1.0, key_id="digest", key_alias="app",
                      model_group="small", status=200, prompt_tokens=3)
    r.request_params = {"temperature": 0.1}
    r.prompt = [{"role": "user", "content": "a secret prompt"}]
    r.completion = ["a secret answer"]
    r.span = object()
    return r


async def test_lines_are_written_by_a_thread_and_drained_on_close(
        caplog: pytest.LogCaptureFixture) -> None:
    out = Gate()
    log = RequestLog(out, capacity=5)
    with caplog.at_level(logging.WARNING, "gatewise.telemetry"):
        for n in range(20):  # the writer is stuck on the first: the queue fills
            log.emit(record(n))
    assert log.dropped >= 14
    assert len([r for r in caplog.records if "cannot keep up" in r.message]) == 1
    out.open.set()
    await log.aclose()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 20 - log.dropped and log.written == len(lines)
    assert lines[0]["call_id"] == "call-0" and lines[0]["prompt_tokens"] == 3
    text = out.getvalue().decode()
    for absent in ("secret", "temperature", "span"):
        assert absent not in text
