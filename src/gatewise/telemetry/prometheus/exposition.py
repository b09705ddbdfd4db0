"""``/metrics``'s body, and several workers' metrics as one.

With ``--workers N`` each worker is a process of its own: prometheus_client's multiprocess
mode keeps every worker's values in memory-mapped files in one directory
(``PROMETHEUS_MULTIPROC_DIR``), and a scrape -- whichever worker answers it -- reads and
sums them all.  The CLI prepares that directory before the workers start
(:func:`prepare_directory`: a fresh one of its own, removed at exit, or the operator's,
emptied) -- prometheus_client picks its mode when it is first imported, so the variable
must be set before that, in the workers' environment.  One worker keeps its values in
memory and needs no directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["MULTIPROC_ENV", "multiprocess", "prepare_directory", "remove_directory", "render"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OURS = "gatewise-prometheus-"


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def prepare_directory(environ: dict[str, str] | None = None) -> Path:
    """Make the multiprocess directory ready, before any worker starts: the operator's
    ``PROMETHEUS_MULTIPROC_DIR`` emptied of an earlier run's files, else a fresh one
    (``environ`` names it to the workers)."""
    env = os.environ if environ is None else environ
    given = env.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
        return folder
    folder = Path(tempfile.mkdtemp(prefix=_OURS))
    env[MULTIPROC_ENV] = str(folder)
    return folder


def remove_directory(folder: Path) -> None:
    """Remove a directory :func:`prepare_directory` made (an operator's is left, emptied
    at the next start)."""
    if folder.name.startswith(_OURS):
        shutil.rmtree(folder, ignore_errors=True)


def render(registry: object) -> tuple[bytes, str]:
    """The text exposition of ``registry`` -- with several workers, of all of them."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if multiprocess():
        from prometheus_client.multiprocess import MultiProcessCollector

        summed = CollectorRegistry()
        MultiProcessCollector(summed)  # type: ignore[no-untyped-call]
        return generate_latest(summed), CONTENT_TYPE_LATEST
    assert isinstance(registry, CollectorRegistry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
