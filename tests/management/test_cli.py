"""The management API through the real CLI: the README's curl walk-through, and a change
made through one proxy process taking effect in another that shares the database (it
polls the change list)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.management._client import MASTER_KEY
from tests.management.conftest import config
from tests.proxy._server import Proxy, client, run_proxy_with

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
BEARER = {"authorization": f"Bearer {MASTER_KEY}"}
ADMIN = f"Authorization: Bearer {MASTER_KEY}"  # for curl


def curl(*args: str) -> Any:
    out = subprocess.run(["curl", "-sS", "--fail-with-body", *args], check=True,
                         capture_output=True, text=True, timeout=20).stdout
    return json.loads(out)


@needs_curl
def test_the_readme_walk_through(database_url: str, tmp_path: Path) -> None:
    with run_proxy_with(config(database_url), tmp_path) as proxy:
        made = curl(f"{proxy.url}/key/generate", "-H", ADMIN, "-d", json.dumps({
            "models": ["demo"], "max_budget": 10, "budget_duration": "30d",
            "rpm_limit": 60, "key_alias": "app-1"}))
        assert made["key"].startswith("sk-") and made["key_alias"] == "app-1"
        info = curl(f"{proxy.url}/key/info?key={made['key']}", "-H", ADMIN)
        assert info["info"]["rpm_limit"] == 60 and info["info"]["spend"] == 0.0
        updated = curl(f"{proxy.url}/key/update", "-H", ADMIN, "-d",
                       json.dumps({"key": made["key"], "tpm_limit": 20000}))
        assert updated["tpm_limit"] == 20000
        app = client(proxy, made["key"])
        answer = app.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "hi there"
        with pytest.raises(openai.AuthenticationError):
            app.embeddings.create(model="embed", input="x")  # not among its models
        curl(f"{proxy.url}/key/block", "-H", ADMIN, "-d", json.dumps({"key": made["key"]}))
        with pytest.raises(openai.AuthenticationError):
            app.chat.completions.create(model="demo",
                                        messages=[{"role": "user", "content": "hi"}])
        # The own key reads its info; the openai client's errors carry the 400s' fields.
        mine = httpx.get(f"{proxy.url}/key/info",
                         headers={"authorization": f"Bearer {made['key']}"})
        assert mine.status_code == 401  # blocked: refused everywhere
        bad = httpx.post(f"{proxy.url}/v1/key/generate", headers=BEARER,
                         json={"max_budget": -1})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_budget"
        assert "Traceback" not in proxy.output() and made["key"] not in proxy.output()


def _chat_status(proxy: Proxy, key: str) -> int:
    return httpx.post(f"{proxy.url}/v1/chat/completions",
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
                      timeout=10).status_code


def test_a_change_reaches_another_process(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with run_proxy_with(config(database_url), tmp_path / "a") as one, \
            run_proxy_with(config(database_url), tmp_path / "b") as other:
        made = httpx.post(f"{one.url}/key/generate", headers=BEARER,
                          json={}).json()
        assert _chat_status(other, made["key"]) == 200  # now cached there
        httpx.post(f"{one.url}/key/block", headers=BEARER,
                   json={"key": made["token"]}).raise_for_status()
        deadline = time.monotonic() + 15
        while _chat_status(other, made["key"]) == 200:
            assert time.monotonic() < deadline, "the other process never saw the block"
            time.sleep(0.1)
        assert _chat_status(other, made["key"]) == 401
