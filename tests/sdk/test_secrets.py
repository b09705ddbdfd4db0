"""API keys never appear in errors, bodies, reprs or logs — even when the upstream echoes
them back — on any error path, with debug logging on."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import gatewise
from tests.fake_mistral import Delay, FakeMistral, Garbage, Status
from tests.sdk.conftest import SDK

KEY = "sk-gatewise-DISTINCTIVE-5f3a9c"


def _everything(error: BaseException) -> str:
    parts = [str(error), repr(error), str(getattr(error, "body", "")), str(error.args)]
    return "\n".join(parts)


ECHOES = [
    Status(401, body={"detail": f"Unauthorized: API key {KEY} is not valid"}),
    Status(400, body={"object": "error", "type": "invalid_request_error", "param": None,
                      "code": None, "message": f"bad key {KEY}"}),
    Status(422, body={"detail": [{"type": "x", "loc": ["body", KEY], "msg": KEY,
                                  "input": KEY}]}),
    Status(429, body={"message": f"Requests rate limit exceeded for {KEY}"}),
    Status(500, body=f"internal error while serving {KEY}".encode()),
    Garbage(f"<html>{KEY}".encode()),
    Delay(3),
]


@pytest.mark.parametrize("behavior", ECHOES, ids=lambda b: type(b).__name__)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_keys_never_leave_with_an_error(sdk: SDK, fake_mistral: FakeMistral, behavior: Any,
                                        stream: bool, caplog: pytest.LogCaptureFixture,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    fake_mistral.api_keys = {KEY}
    fake_mistral.script(behavior)
    sdk.defaults["api_key"] = KEY
    call = sdk.stream if stream else sdk.completion
    with pytest.raises(gatewise.APIError) as info:
        call(num_retries=0, timeout=0.5)
    out = capsys.readouterr()
    assert KEY not in _everything(info.value)
    assert KEY not in caplog.text + out.out + out.err


def test_keys_never_in_reprs() -> None:
    client = gatewise.Client(api_key=KEY)
    aclient = gatewise.AsyncClient(api_key=KEY)
    assert KEY not in repr(client) + repr(aclient) + str(vars(client).get("_settings"))
