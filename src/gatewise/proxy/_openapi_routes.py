"""The OpenAPI operations of the routes past chat and embeddings: code completion,
moderation and classification, OCR, audio transcription, and the management API.

Request schemas are loose where Mistral's own schema judges the rest (the native routes
pass their bodies on, and Mistral's 422 names a wrong field); they name what the proxy
itself checks, so a tool reading the document sends what the route expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

JSON = dict[str, Any]
Answers = Callable[..., JSON]

_STRINGS: JSON = {"oneOf": [{"type": "string"},
                            {"type": "array", "minItems": 1, "items": {"type": "string"}}]}
_CONVERSATION: JSON = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["role", "content"],
    "properties": {"role": {"type": "string", "enum": ["system", "user", "assistant"]},
                   "content": {"type": "string"}}}}


def _model(models: Sequence[str]) -> JSON:
    return {"type": "string", "enum": list(models)} if models else {"type": "string"}


def _object(required: Sequence[str], properties: JSON) -> JSON:
    return {"type": "object", "required": list(required), "properties": properties}


def _json_body(schema: JSON) -> JSON:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def model_operations(models: Mapping[str, Sequence[str]], security: list[JSON],
                     answers: Answers, ok: Callable[[str], JSON]) -> JSON:
    """The model routes past chat and embeddings, for the names serving each mode."""
    errors = (400, 401, 404, 413, 422, 429, 500, 502, 503, 504)
    fim, moderation = models.get("fim", ()), models.get("moderation", ())
    sampling = {"max_tokens": {"type": "integer", "minimum": 0},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                "stop": _STRINGS, "stream": {"type": "boolean"}}
    streamed = {"description": "an answer, or a text/event-stream of chunks",
                "content": {"application/json": {"schema": {"type": "object"}},
                            "text/event-stream": {"schema": {"type": "string"}}}}

    def post(operation: str, body: JSON, answer: JSON) -> JSON:
        return {"post": {"operationId": operation, "security": security,
                         "requestBody": body, "responses": answers(answer, *errors)}}

    return {
        "/v1/completions": post("createCompletion", _json_body(_object(
            ["model", "prompt"], {"model": _model(fim), "prompt": {"type": "string"},
                                  "suffix": {"type": "string"}, "seed": {"type": "integer"},
                                  "user": {"type": "string"}, **sampling})), streamed),
        "/v1/fim/completions": post("createFimCompletion", _json_body(_object(
            ["model", "prompt"], {"model": _model(fim), "prompt": {"type": "string"},
                                  "suffix": {"type": "string"},
                                  "min_tokens": {"type": "integer", "minimum": 0},
                                  "random_seed": {"type": "integer", "minimum": 0},
                                  **sampling})), streamed),
        "/v1/moderations": post("createModeration", _json_body(_object(
            ["input"], {"model": _model(moderation),
                        "input": {"oneOf": [*_STRINGS["oneOf"], _CONVERSATION]}})),
            ok("moderation results, in OpenAI's shape")),
        "/v1/chat/moderations": post("createChatModeration", _json_body(_object(
            ["model", "input"], {"model": _model(moderation), "input": _CONVERSATION})),
            ok("moderation results, in Mistral's shape")),
        "/v1/classifications": post("createClassification", _json_body(_object(
            ["model", "input"], {"model": _model(models.get("classification", ())),
                                 "input": _STRINGS})), ok("classification results")),
        "/v1/ocr": post("createOcr", _json_body(_object(
            ["model", "document"], {
                "model": _model(models.get("ocr", ())),
                "document": {"oneOf": [
                    _object(["type", "document_url"], {
                        "type": {"type": "string", "enum": ["document_url"]},
                        "document_url": {"type": "string"}}),
                    _object(["type", "image_url"], {
                        "type": {"type": "string", "enum": ["image_url"]},
                        "image_url": {"type": "string"}}),
                    _object(["type", "file_id"], {
                        "type": {"type": "string", "enum": ["file"]},
                        "file_id": {"type": "string"}})]},
                "pages": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "include_image_base64": {"type": "boolean"}})),
            ok("the pages read, in Mistral's shape")),
        "/v1/audio/transcriptions": post("createTranscription", {
            "required": True, "content": {"multipart/form-data": {"schema": _object(
                ["file", "model"], {
                    "file": {"type": "string", "format": "binary"},
                    "model": _model(models.get("audio_transcription", ())),
                    "language": {"type": "string"}, "prompt": {"type": "string"},
                    "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                    "response_format": {"type": "string",
                                        "enum": ["json", "text", "verbose_json"]},
                    "timestamp_granularities[]": {"type": "array", "items": {
                        "type": "string", "enum": ["segment", "word"]}},
                    "stream": {"type": "boolean"}})}}}, streamed),
    }


_BUDGET: JSON = {"max_budget": {"type": ["number", "null"], "minimum": 0},
                 "budget_duration": {"type": ["string", "null"]},
                 "tpm_limit": {"type": ["integer", "null"], "minimum": 0},
                 "rpm_limit": {"type": ["integer", "null"], "minimum": 0},
                 "models": {"type": "array", "items": {"type": "string"}},
                 "metadata": {"type": "object"}, "blocked": {"type": "boolean"}}


def management_operations(security: list[JSON], answers: Answers,
                          ok: Callable[[str], JSON]) -> JSON:
    """The management API (LiteLLM's paths), for scripts and tools reading the document:
    the main fields of each body; the routes accept LiteLLM's others too."""
    key = {**_BUDGET, "key_alias": {"type": ["string", "null"]},
           "duration": {"type": ["string", "null"]}, "team_id": {"type": ["string", "null"]},
           "user_id": {"type": ["string", "null"]},
           "max_parallel_requests": {"type": ["integer", "null"], "minimum": 1}}
    team = {**_BUDGET, "team_alias": {"type": ["string", "null"]},
            "team_id": {"type": ["string", "null"]}}
    user = {**_BUDGET, "user_id": {"type": ["string", "null"]},
            "user_email": {"type": ["string", "null"]}}
    errors = (400, 401, 404, 409, 422, 503)

    def post(operation: str, required: Sequence[str], properties: JSON) -> JSON:
        return {"post": {"operationId": operation, "security": security,
                         "requestBody": _json_body(_object(required, properties)),
                         "responses": answers(ok(operation), *errors)}}

    def get(operation: str, *query: str) -> JSON:
        return {"get": {"operationId": operation, "security": security,
                        "parameters": [{"name": name, "in": "query", "required": False,
                                        "schema": {"type": "string"}} for name in query],
                        "responses": answers(ok(operation), *errors)}}

    ids = {"keys": {"type": "array", "items": {"type": "string"}}}
    some = {"type": "array", "minItems": 1, "items": {"type": "string"}}
    one_key = {"key": {"type": "string"}}
    one_team = {"team_id": {"type": "string"}}
    person: JSON = {"user_id": {"type": ["string", "null"]},
                    "user_email": {"type": ["string", "null"]}}
    member = {"type": "object", "properties": {
        "role": {"type": "string", "enum": ["admin", "user"]}, **person}}
    customer = {"user_id": {"type": "string"}, "max_budget": _BUDGET["max_budget"],
                "budget_duration": _BUDGET["budget_duration"]}
    regenerate = {**key, **one_key, "new_key": {"type": ["string", "null"]}}
    by_path = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/key/generate": post("generateKey", [], key),
        "/key/update": post("updateKey", ["key"], {**key, **one_key}),
        "/key/regenerate": post("regenerateKey", ["key"], regenerate),
        "/key/{key}/regenerate": {"post": {
            "operationId": "regenerateKeyAt", "security": security,
            "parameters": [by_path], "requestBody": {
                "required": False, "content": {"application/json": {"schema": _object(
                    [], {k: v for k, v in regenerate.items() if k != "key"})}}},
            "responses": answers(ok("regenerateKeyAt"), *errors)}},
        "/key/block": post("blockKey", ["key"], one_key),
        "/key/unblock": post("unblockKey", ["key"], one_key),
        "/key/delete": post("deleteKeys", [], {**ids, "key_aliases": ids["keys"]}),
        "/key/info": get("keyInfo", "key"),
        "/key/list": get("listKeys", "page", "size", "team_id", "user_id", "key_alias"),
        "/team/new": post("newTeam", [], team),
        "/team/update": post("updateTeam", ["team_id"], team),
        "/team/block": post("blockTeam", ["team_id"], one_team),
        "/team/unblock": post("unblockTeam", ["team_id"], one_team),
        "/team/delete": post("deleteTeams", ["team_ids"], {"team_ids": some}),
        "/team/member_add": post("addTeamMembers", ["team_id", "member"], {
            **one_team, "member": {"type": "array", "minItems": 1, "items": member}}),
        "/team/member_delete": post("deleteTeamMember", ["team_id"], {**one_team, **person}),
        "/team/info": get("teamInfo", "team_id"),
        "/team/list": get("listTeams", "user_id"),
        "/user/new": post("newUser", [], user),
        "/user/update": post("updateUser", [], user),
        "/user/delete": post("deleteUsers", ["user_ids"], {"user_ids": some}),
        "/user/info": get("userInfo", "user_id"),
        "/user/list": get("listUsers", "page", "page_size", "role", "user_ids"),
        "/customer/new": post("newCustomer", ["user_id"], customer),
        "/customer/update": post("updateCustomer", ["user_id"], customer),
        "/customer/delete": post("deleteCustomers", ["user_ids"], {"user_ids": some}),
        "/customer/block": post("blockCustomers", ["user_ids"], {"user_ids": some}),
        "/customer/unblock": post("unblockCustomers", ["user_ids"], {"user_ids": some}),
        "/customer/info": get("customerInfo", "end_user_id"),
        "/customer/list": get("listCustomers"),
        "/spend/logs": get("spendLogs", "api_key", "user_id", "team_id", "request_id",
                           "start_date", "end_date", "summarize"),
        "/global/spend/report": get("globalSpendReport", "start_date", "end_date",
                                    "group_by"),
    }
