"""``gatewise db upgrade`` and ``gatewise db current``, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _gatewise(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatewise", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_upgrade_then_current(database_url: str, tmp_path: Path) -> None:
    before = _gatewise("db", "current", "--database-url", database_url, cwd=tmp_path)
    assert before.returncode == 3 and "(none)" in before.stdout
    done = _gatewise("db", "upgrade", "--database-url", database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "latest version" in done.stderr
    after = _gatewise("db", "current", "--database-url", database_url, cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr


def test_the_config_names_the_database(tmp_path: Path) -> None:
    config = {"model_list": [{"model_name": "m", "params": {"model": "mistral/x",
                                                           "mock_response": "hi"}}],
              "general_settings": {"master_key": "sk-m"}}
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    done = _gatewise("db", "upgrade", "--config", "config.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "gatewise.db").is_file()  # the embedded default, next to the config
    bad = _gatewise("db", "upgrade", "--database-url", "mysql://u:secret@h/d", cwd=tmp_path)
    assert bad.returncode == 2 and "secret" not in bad.stderr
