"""Callbacks written for LiteLLM (its ``CustomLogger`` style), told of gatewise's calls.

``Client(callbacks=[...])``, ``AsyncClient`` and ``Router`` take both styles side by side:

* gatewise's (:mod:`gatewise.callbacks`): ``log_success_event(record, response)`` /
  ``log_failure_event(record, error)`` and their ``async_`` twins;
* LiteLLM's: ``log_success_event(kwargs, response_obj, start_time, end_time)`` /
  ``log_failure_event(kwargs, response_obj, start_time, end_time)`` and the
  ``async_log_success_event`` / ``async_log_failure_event`` twins.

A callback is taken for LiteLLM's style when its class derives from LiteLLM's
``CustomLogger`` (found by name in its MRO, LiteLLM is never imported), or when one of those
methods takes four positional arguments (gatewise's take two; ``*args`` counts as
gatewise's).  It is told as LiteLLM tells it: a blocking call (``Client``, a ``Router``'s
blocking methods) calls the blocking method; an async one awaits the ``async_`` method,
else calls the blocking one.  As for every callback, an exception it raises is logged
(``gatewise.callbacks``) and never breaks the call nor the callbacks after it.

What it is passed:

* ``kwargs``: ``model`` (the upstream model, ``provider/name``; a router's call that no
  deployment took: the model group), ``messages`` and ``input`` (the call's messages, or
  the embedding's input: the objects you passed, not copies), ``optional_params`` (the
  call's parameters, without the call options: ``api_key``, ``api_base``,
  ``extra_headers``, ``timeout``...), ``litellm_params`` (``{"metadata": {...}}``: your
  ``metadata`` parameter, with ``model_group`` and ``deployment`` (its id) for a router's
  call), ``stream``, ``call_type`` (``completion``, ``acompletion``, ``embedding``,
  ``aembedding``), ``litellm_call_id`` (the record's ``call_id``), ``start_time`` /
  ``end_time`` / ``completion_start_time`` (the first chunk of a stream, else None),
  ``response_cost`` (USD), ``exception`` (a failure's error, else None) and
  ``standard_logging_object``: the record's logged fields
  (:meth:`gatewise.record.RequestRecord.as_dict`) plus LiteLLM's names for some:
  ``id``, ``call_type``, ``status`` (``success`` / ``failure``: LiteLLM's, over the
  record's HTTP status, which is ``status_code`` here), ``response_cost``,
  ``total_tokens``, ``startTime`` / ``endTime`` / ``completionStartTime`` (epoch
  seconds), ``model_id`` (the deployment), ``error_str``.  No key or header is in any of it.
* ``response_obj``: the answer (a ``ModelResponse`` / ``EmbeddingResponse``); None for a
  stream (its chunks were yours; the record has its usage and finish reasons) and for a
  failure (the error is ``kwargs["exception"]``).
* ``start_time``, ``end_time``: ``datetime`` (local time, naive, as LiteLLM passes them).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any

from gatewise._target import OPTION_NAMES
from gatewise.record import RequestRecord

__all__ = ["LiteLLMStyle", "styled"]

_METHODS = ("log_success_event", "log_failure_event", "async_log_success_event",
            "async_log_failure_event")
_CALL_OPTIONS = OPTION_NAMES | {"metadata"}
"""Parameters that are not the model's (``optional_params`` leaves them out)."""
_CALL_TYPES = {"chat": "completion", "embeddings": "embedding"}


def styled(callbacks: Iterable[Any]) -> tuple[Any, ...]:
    """``callbacks`` as a client or router keeps them: LiteLLM's style wrapped."""
    return tuple(LiteLLMStyle(c) if _litellm_style(c) else c for c in callbacks)


def _litellm_style(callback: Any) -> bool:
    if any(c.__name__ == "CustomLogger" and c.__module__.startswith("litellm")
           for c in type(callback).__mro__):
        return True
    for name in _METHODS:
        method = getattr(callback, name, None)
        if method is None or not callable(method):
            continue
        try:
            parameters = inspect.signature(method).parameters.values()
        except (TypeError, ValueError):
            continue
        positional = [p for p in parameters
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) >= 4:
            return True
    return False


class LiteLLMStyle:
    """A LiteLLM-style callback, told of a call (``gatewise._observe.Watched``)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Any) -> None:
        self.callback = callback

    @property
    def name(self) -> str:
        return type(self.callback).__name__

    def tell(self, record: RequestRecord, payload: Any, params: Mapping[str, Any],
             response: Any, error: BaseException | None) -> None:
        name = "log_success_event" if error is None else "log_failure_event"
        method = getattr(self.callback, name, None)
        if method is not None:
            method(*_arguments(record, payload, params, response, error, asynchronous=False))

    async def atell(self, record: RequestRecord, payload: Any, params: Mapping[str, Any],
                    response: Any, error: BaseException | None) -> None:
        name = "log_success_event" if error is None else "log_failure_event"
        method = (getattr(self.callback, "async_" + name, None)
                  or getattr(self.callback, name, None))
        if method is None:
            return
        done = method(*_arguments(record, payload, params, response, error,
                                  asynchronous=True))
        if isinstance(done, Awaitable):
            await done


def _arguments(record: RequestRecord, payload: Any, params: Mapping[str, Any],
               response: Any, error: BaseException | None, *, asynchronous: bool
               ) -> tuple[dict[str, Any], Any, datetime, datetime]:
    start = datetime.fromtimestamp(record.start)
    end = datetime.fromtimestamp(record.start + record.latency)
    first = (datetime.fromtimestamp(record.start + record.ttft) if record.ttft is not None
             else None)
    call_type = _CALL_TYPES.get(record.route, record.route)
    if asynchronous:
        call_type = "a" + call_type
    metadata = params.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    if record.model_group is not None:
        metadata.update(model_group=record.model_group, deployment=record.deployment_id)
    standard = {
        **record.as_dict(), "id": record.call_id, "call_type": call_type,
        "status": "success" if error is None else "failure", "status_code": record.status,
        "response_cost": record.cost, "total_tokens": record.total_tokens,
        "startTime": record.start, "endTime": record.start + record.latency,
        "completionStartTime": (record.start + record.ttft if record.ttft is not None
                                else None),
        "model_id": record.deployment_id,
        "error_str": None if error is None else str(error)}
    kwargs = {
        "model": record.model or record.model_group, "messages": payload, "input": payload,
        "optional_params": {k: v for k, v in params.items() if k not in _CALL_OPTIONS},
        "litellm_params": {"metadata": metadata}, "stream": record.stream,
        "call_type": call_type, "litellm_call_id": record.call_id, "start_time": start,
        "end_time": end, "completion_start_time": first, "response_cost": record.cost,
        "exception": error, "standard_logging_object": standard}
    return kwargs, response if error is None else None, start, end
