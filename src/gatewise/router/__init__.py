"""Many deployments behind one model name: strategies, limits, retries, cooldowns, fallbacks.

>>> from gatewise import Router
>>> router = Router(model_list=[
...     {"model_name": "small", "params": {"model": "mistral/mistral-small-latest",
...                                        "api_key": "k1", "rpm": 600}},
...     {"model_name": "small", "params": {"model": "mistral/mistral-small-latest",
...                                        "api_key": "k2", "rpm": 300}},
... ])

See :class:`Router`; the pieces (strategies, store, policy, fallbacks) are importable for
tests and for a shared state store.
"""

from gatewise.router.deployments import Deployment
from gatewise.router.policy import Attempt, attempts_of
from gatewise.router.result import DeploymentHealth, RouteResult, failure_headers
from gatewise.router.router import Router
from gatewise.router.store import DeploymentStats, MemoryStore, StateStore

__all__ = [
    "Attempt",
    "Deployment",
    "DeploymentHealth",
    "DeploymentStats",
    "MemoryStore",
    "RouteResult",
    "Router",
    "StateStore",
    "attempts_of",
    "failure_headers",
]
