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


# -- every configured secret, in any case, before any truncation -------------------------------

ORG_SECRET = "7Hq2Lm9Zx4Wp3Kd8"  # an extra header's value
REDACTED = "sk-master-Vb81Qe-redacted"  # a value the client was told to keep out
STRADDLE = "x" * (2000 - len(KEY) // 2) + KEY + " and more"  # the key across the 2,000 cut
SSE_STRADDLE = "y" * (200 - len(KEY) // 2) + KEY  # ...across a quoted excerpt's 200


def _fragments(secret: str, width: int = 10) -> list[str]:
    """Every piece of ``width`` characters of the secret (what a cut would leave of it), in
    lower case."""
    return [secret[i:i + width].lower() for i in range(len(secret) - width + 1)]


SECRET_ECHOES = [
    Status(400, body={"message": f"rejected headers: X-Org-Secret: {ORG_SECRET}"}),
    Status(401, body={"detail": f"bad header Authorization: BEARER {KEY.upper()}"}),
    Status(403, body={"message": f"forbidden for {ORG_SECRET.upper()} / {REDACTED.title()}"}),
    Status(400, body={"message": STRADDLE}),
    Status(422, body={"detail": [{"type": "x", "loc": ["body", "model"], "msg": "bad",
                                  "input": "z" * (80 - len(KEY) // 2) + KEY}]}),
    Status(500, body=STRADDLE.encode()),
    Status(503, body={"message": f"{REDACTED} {KEY.lower()}"}),
    Garbage(SSE_STRADDLE.encode()),  # a 2xx that is not JSON, quoted in the error
]


@pytest.mark.parametrize("behavior", SECRET_ECHOES)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_every_secret_leaves_no_trace_in_any_case_or_cut(
        sdk: SDK, fake_mistral: FakeMistral, behavior: Any, stream: bool,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    fake_mistral.api_keys = {KEY}
    fake_mistral.script(behavior)
    sdk.defaults.update(api_key=KEY, extra_headers={"X-Org-Secret": ORG_SECRET},
                        redact=[REDACTED])
    call = sdk.stream if stream else sdk.completion
    with pytest.raises(gatewise.APIError) as info:
        call(num_retries=0, timeout=0.5)
    out = capsys.readouterr()
    seen = (_everything(info.value) + str(info.value.param) + caplog.text + out.out
            + out.err).lower()
    for secret in (KEY, ORG_SECRET, REDACTED):
        assert not [f for f in _fragments(secret) if f in seen], (secret, seen[-600:])
    assert "***" in seen or (stream and isinstance(behavior, Garbage))  # (nothing quoted)


def test_a_bad_stream_event_quoting_a_key_across_its_cut(sdk: SDK,
                                                         fake_mistral: FakeMistral) -> None:
    fake_mistral.api_keys = {KEY}
    fake_mistral.script(Garbage(f"data: {SSE_STRADDLE}\n\n".encode(),
                                content_type="text/event-stream"))
    sdk.defaults["api_key"] = KEY
    with pytest.raises(gatewise.APIError) as info:
        sdk.stream(num_retries=0, timeout=0.5)
    seen = _everything(info.value).lower()
    assert "not json" in seen
    assert not [f for f in _fragments(KEY) if f in seen], seen


def test_short_header_values_are_not_secrets() -> None:
    from gatewise._http._secrets import call_secrets

    secrets = call_secrets("k", [{"X-Version": "2024-06", "X-Org": ORG_SECRET}, None],
                           ["master-key"])
    assert len(secrets) == 3
    assert secrets.text("2024-06 k?") == "2024-06 ***?"  # the key, however short
    assert secrets.scrub({ORG_SECRET.upper(): ["MASTER-KEY"]}) == {"***": ["***"]}
    assert ORG_SECRET not in repr(secrets)
