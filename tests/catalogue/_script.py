"""``scripts/refresh_catalogue.py``, loaded as a module (scripts/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "refresh_catalogue.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_catalogue", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("refresh_catalogue", module)
    spec.loader.exec_module(module)
    return module


refresh = _load()
