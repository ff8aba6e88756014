"""`wirewatch init [DIR]`: starter files that pass `check`, never overwriting without --force."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wirewatch.cli import main
from wirewatch.config.loader import load_config


def wirewatch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WIREWATCH_CONFIG", "WIREWATCH_DATABASE")}
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_init_writes_a_starter_that_check_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIREWATCH_DATABASE", raising=False)
    target = tmp_path / "new" / "place"
    out = wirewatch("init", str(target))
    assert out.returncode == 0, out.stderr
    config = target / "wirewatch.yaml"
    assert config.is_file() and (target / "watchlists" / "my-companies.yaml").is_file()
    checked = wirewatch("--config", str(config), "check")
    assert checked.returncode == 0, checked.stderr
    assert "1 feeds, 1 watchlists, 1 channels" in checked.stdout
    loaded = load_config(config)
    assert loaded.config.database == f"sqlite:///{(target / 'wirewatch.db').resolve()}"
    assert [wl.channels for _, wl in loaded.watchlists] == [["screen"]]
    assert "#" in config.read_text(encoding="utf-8").splitlines()[0]  # commented for a person to read


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "wirewatch.yaml"
    config.write_text("database: sqlite:///mine.db\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 1
    assert "already exists; nothing written (--force overwrites)" in capsys.readouterr().err
    assert config.read_text(encoding="utf-8") == "database: sqlite:///mine.db\n"
    assert not (tmp_path / "watchlists").exists()  # all or nothing
    assert main(["init", "--force", str(tmp_path)]) == 0
    assert "bbc-business" in config.read_text(encoding="utf-8")
    assert main(["--config", str(config), "check"]) == 0


def test_init_defaults_to_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert (tmp_path / "wirewatch.yaml").is_file()
