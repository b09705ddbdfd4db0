"""The ``/mistral/*`` pass-through's plumbing: where it goes, which headers cross.

``/mistral/<path>`` goes to ``<target>/<path>``, query string as sent: the path is
Mistral's own, ``/v1`` included (``/mistral/v1/files`` -> ``https://api.mistral.ai/v1/files``;
``/mistral/v2/prompts`` too), as LiteLLM maps it.  The target is the
``pass_through_endpoints`` entry's, else the first ``mistral/`` deployment with a key: its
``api_base`` (or ``MISTRAL_API_BASE``, or Mistral's) less a trailing ``/v1``.

Request headers cross but for the hop-by-hop ones, ``Host``, the client's credentials
(``Authorization``, ``x-api-key``, ``api-key``: the proxy's key, never Mistral's),
``Expect`` and ``Accept-Encoding`` (the transport asks for what it can decode); the
target's headers (its key) are added; ``Content-Length`` stays (the body crosses as it
is).  Answer headers cross but for the hop-by-hop ones and those the transport undoes
(``Content-Encoding``, ``Content-Length``: the body is relayed decoded, in chunks).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from gatewise._http._secrets import Secrets
from gatewise.providers.base import PROVIDERS
from gatewise.proxy._passthrough_settings import PASS_THROUGH_PATH
from gatewise.proxy._secret import Secret
from gatewise.proxy.config import ProxyConfig
from gatewise.proxy.deployments import Deployment

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer",
                        "trailers", "upgrade", "proxy-authorization", "proxy-authenticate",
                        "proxy-connection"})
_REQUEST_DROPPED = HOP_BY_HOP | {"host", "authorization", "x-api-key", "api-key",
                                 "accept-encoding", "expect"}
_ANSWER_DROPPED = HOP_BY_HOP | {"content-encoding", "content-length"}


@dataclass(frozen=True, slots=True)
class PassThroughTarget:
    root: str
    """The URL the path is appended to, without a trailing slash."""
    headers: tuple[tuple[str, Secret], ...] = field(repr=False)
    """Added to every request: the key."""
    source: str
    """Where it comes from, for the startup report and errors."""

    @property
    def secrets(self) -> Secrets:
        """What must never come back out in an error: the added headers' values, and a
        bearer token's key on its own too."""
        values = [secret.reveal() for _, secret in self.headers]
        values += [v.split(" ", 1)[1] for v in values if v.lower().startswith("bearer ")]
        return Secrets(values)


def pass_through_target(config: ProxyConfig, deployments: Iterable[Deployment],
                        environ: Mapping[str, str] = os.environ) -> PassThroughTarget | None:
    """``/mistral``'s target, or None when nothing says where Mistral is."""
    if config.pass_through:
        entry = config.pass_through[0]
        return PassThroughTarget(entry.target, entry.headers,
                                 "general_settings.pass_through_endpoints")
    spec = PROVIDERS["mistral"]
    for deployment in deployments:
        if (deployment.model.startswith("mistral/") and deployment.problem is None
                and not deployment.is_mock and deployment.api_key is not None):
            base = (deployment.config.api_base or environ.get(spec.api_base_env)
                    or spec.default_api_base).rstrip("/")
            root = base.removesuffix("/v1")
            key = Secret(f"Bearer {deployment.api_key.reveal()}")
            return PassThroughTarget(root, (("Authorization", key),),
                                     f"model_list entry {deployment.model_name!r}")
    return None


def subpath(raw_path: bytes) -> str | None:
    """The part of a request's raw path after ``/mistral`` (still percent-encoded), or
    None when it steps out of it (a ``.`` or ``..`` segment, plain or encoded)."""
    path = raw_path.decode("latin-1")
    if path.startswith("/v1/"):
        path = path[3:]
    rest = path[len(PASS_THROUGH_PATH):]
    if any(unquote(segment) in (".", "..") for segment in rest.split("/")):
        return None
    return rest


def request_headers(client: Iterable[tuple[bytes, bytes]], target: PassThroughTarget
                    ) -> dict[str, str]:
    """The headers sent upstream: the client's that may cross, then the target's."""
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in client]
    named = {token.strip().lower() for k, v in pairs if k == "connection"
             for token in v.split(",")}
    headers: dict[str, str] = {}
    for name, value in pairs:
        if name in _REQUEST_DROPPED or name in named or name.startswith("proxy-"):
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    for name, secret in target.headers:
        headers.pop(name.lower(), None)
        headers[name] = secret.reveal()
    return headers


def answer_headers(upstream: Mapping[str, str] | Iterable[tuple[str, str]]
                   ) -> list[tuple[bytes, bytes]]:
    """The upstream's answer headers that cross to the client."""
    items = upstream.items() if isinstance(upstream, Mapping) else upstream
    pairs = [(k.lower(), v) for k, v in items]
    named = {v.strip().lower() for k, value in pairs if k == "connection"
             for v in value.split(",")}
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs
            if k not in _ANSWER_DROPPED and k not in named and not k.startswith("proxy-")]


__all__ = ["HOP_BY_HOP", "PASS_THROUGH_PATH", "PassThroughTarget", "answer_headers",
           "pass_through_target", "request_headers", "subpath"]
