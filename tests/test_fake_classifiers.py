"""The fake's moderation, classification and FIM endpoints are as strict as the real ones:
every request is held to its official schema, and every answer is true to the official
answer schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fake_mistral import FakeMistral, Status, validate_body

MODERATION = "mistral-moderation-latest"
CHAT = [{"role": "user", "content": "hi"}]
# The official answer schemas lag the live API in two places: ChatCompletionResponse lists
# a `data` field no answer has ever carried, and UsageInfo (additionalProperties: false)
# predates `prompt_tokens_details`, in every answer since 2026-03 (mistral-api.md §4).
ERRATA = (("missing", ["body", "data"]),
          ("extra_forbidden", ["body", "usage", "prompt_tokens_details"]))


def answer_errors(schema: str, body: Any) -> list[dict[str, Any]]:
    return [e for e in validate_body(schema, body) if (e["type"], e["loc"]) not in ERRATA]


@pytest.fixture
def client(fake_mistral: FakeMistral) -> Iterator[httpx.Client]:
    headers = {"Authorization": "Bearer test-key"}
    with httpx.Client(base_url=fake_mistral.base_url, headers=headers, timeout=5) as client:
        yield client


@pytest.mark.parametrize(("path", "body", "schema", "results"), [
    ("/moderations", {"input": "hello"}, "ModerationResponse", 1),
    ("/moderations", {"input": ["a", "kill"], "metadata": {"k": 1}}, "ModerationResponse", 2),
    ("/chat/moderations", {"input": CHAT}, "ModerationResponse", 1),
    ("/chat/moderations", {"input": [CHAT, CHAT]}, "ModerationResponse", 2),
    ("/classifications", {"input": ["a", "b"]}, "ClassificationResponse", 2),
    ("/chat/classifications", {"input": {"messages": CHAT}}, "ClassificationResponse", 1),
    ("/chat/classifications", {"input": [{"messages": CHAT}] * 3}, "ClassificationResponse",
     3),
])
def test_answers_are_true_to_the_schema(client: httpx.Client, path: str, body: dict[str, Any],
                                        schema: str, results: int) -> None:
    answer = client.post(path, json={"model": MODERATION, **body})
    assert answer.status_code == 200, answer.text
    assert answer_errors(schema, answer.json()) == []
    assert len(answer.json()["results"]) == results


def test_a_fim_answer_is_true_to_the_schema(client: httpx.Client) -> None:
    answer = client.post("/fim/completions", json={"model": "codestral-latest", "prompt": "d"})
    assert answer_errors("FIMCompletionResponse", answer.json()) == []
    assert answer_errors("FIMCompletionResponse", {**answer.json(), "id": 3}) != []


@pytest.mark.parametrize(("path", "body", "loc"), [
    ("/moderations", {"input": "a", "bogus": 1}, ["body", "bogus"]),
    ("/moderations", {"input": [1]}, ["body", "input", "str"]),
    ("/moderations", {}, ["body", "input"]),
    ("/chat/moderations", {"input": "text"},
     ["body", "input", "list[tagged-union[SystemMessage,UserMessage,AssistantMessage,"
                       "ToolMessage]]"]),
    ("/chat/moderations", {"input": CHAT, "metadata": {}}, ["body", "metadata"]),
    ("/chat/moderations", {"input": [{"role": "user", "content": "a", "name": "x"}]},
     ["body", "input", "list[tagged-union[SystemMessage,UserMessage,AssistantMessage,"
                       "ToolMessage]]", 0, "user", "name"]),
    ("/classifications", {"input": "a", "stream": True}, ["body", "stream"]),
    ("/chat/classifications", {"input": {"messages": CHAT, "x": 1}},
     ["body", "input", "InstructRequest", "x"]),
    ("/fim/completions", {"prompt": "a", "n": 1}, ["body", "n"]),
    ("/fim/completions", {"prompt": "a", "seed": 1}, ["body", "seed"]),
])
def test_a_field_the_schema_does_not_allow_is_a_422(client: httpx.Client, path: str,
                                                    body: dict[str, Any], loc: list[Any]
                                                    ) -> None:
    model = "codestral-latest" if path.startswith("/fim") else MODERATION
    answer = client.post(path, json={"model": model, **body})
    assert answer.status_code == 422
    assert loc in [item["loc"] for item in answer.json()["detail"]]


@pytest.mark.parametrize("path", ["/moderations", "/classifications"])
def test_only_moderation_models_classify(client: httpx.Client, path: str) -> None:
    answer = client.post(path, json={"model": "mistral-small-latest", "input": "a"})
    assert answer.status_code == 400 and answer.json()["type"] == "invalid_model"


def test_scripted_faults_reach_these_endpoints(client: httpx.Client,
                                               fake_mistral: FakeMistral) -> None:
    fake_mistral.script(Status(429))
    assert client.post("/moderations", json={"model": MODERATION, "input": "a"}
                       ).status_code == 429
    assert client.post("/moderations", json={"model": MODERATION, "input": "a"}
                       ).status_code == 200
