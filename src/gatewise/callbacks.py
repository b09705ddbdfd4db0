"""Callbacks: your code told of every call a ``Client``, ``AsyncClient`` or ``Router``
makes, with its :class:`~gatewise.record.RequestRecord` (the record the proxy hands its
sinks: model, deployment, status, error type, tokens, cost, latency, time to first token,
retries, fallbacks...), to log, meter or trace your own calls.

>>> class Meter(gatewise.Callback):
...     def log_success_event(self, record, response):
...         print(record.model, record.total_tokens, record.cost, record.latency)
...     def log_failure_event(self, record, error):
...         print(record.model, record.status, record.error_type)
>>> client = gatewise.Client(callbacks=[Meter()])

The methods, LiteLLM's names for them (override those you need; any object with some of
them will do):

* ``log_success_event(record, response)`` / ``log_failure_event(record, error)``: called
  by a ``Client`` and a ``Router``'s blocking methods, on the calling thread, once the
  answer is in (or the call has failed), before the call returns;
* ``async_log_success_event`` / ``async_log_failure_event``: awaited by an
  ``AsyncClient`` and a ``Router``'s async methods, before the call returns; by default
  they call the blocking ones.

A stream is reported once, after its last chunk (``response`` is None: the chunks were
yours; the record has the usage and finish reasons), or when it is closed before its end
(``record.abandoned``), or when it breaks (a failure).  The chat and embedding calls
(``completion``, ``embedding`` and their async twins) are reported.  A callback that
raises is logged (``gatewise.callbacks``) and never breaks the call nor the callbacks after
it.  Keep callbacks quick -- hand slow work to a queue or a task -- they run on the call's
path.  A client or router without callbacks checks for none and does nothing more.

A callback written for LiteLLM (its ``CustomLogger`` style: ``log_success_event(kwargs,
response_obj, start_time, end_time)`` and the rest) works too, next to these: see
:mod:`gatewise._callback_styles` for how it is recognised and what ``kwargs`` holds.
"""

from __future__ import annotations

from typing import Any

from gatewise.record import RequestRecord

__all__ = ["Callback", "RequestRecord"]


class Callback:
    """Base class of a callback: every method does nothing, the async ones call the
    blocking ones."""

    def log_success_event(self, record: RequestRecord, response: Any) -> None:
        """A call succeeded (``response``: its answer; None for a stream)."""

    def log_failure_event(self, record: RequestRecord, error: BaseException) -> None:
        """A call failed with ``error`` (``record.status``, ``record.error_type``)."""

    async def async_log_success_event(self, record: RequestRecord, response: Any) -> None:
        self.log_success_event(record, response)

    async def async_log_failure_event(self, record: RequestRecord, error: BaseException
                                      ) -> None:
        self.log_failure_event(record, error)
