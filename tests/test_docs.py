"""The README documents every config and watchlist key, and the shipped systemd unit can write its database."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from wirewatch.config.loader import load_config
from wirewatch.config.models import Config
from wirewatch.config.watchlist import WatchlistConfig

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key a file of `model` may hold, as the README writes it: `fetch.timeout`, `feeds[].url`, `channels.NAME.to`."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        paths.append(path)
        origin = typing.get_origin(info.annotation)
        for sub in _models(info.annotation):
            step = ".NAME." if origin is dict else "[]." if origin is list else "."
            paths += key_paths(sub, path + step)
    return list(dict.fromkeys(paths))


def test_the_walk_finds_nested_keys_of_every_kind() -> None:
    paths = key_paths(Config)
    assert {"fetch.user_agent", "feeds[].enabled", "feeds[].clean.rules[].regex", "channels.NAME.from",
            "channels.NAME.urls", "feeds_files"} <= set(paths)


@pytest.mark.parametrize("path", key_paths(Config) + key_paths(WatchlistConfig))
def test_every_key_is_documented_in_the_readme(path: str) -> None:
    assert f"`{path}`" in README, f"README does not document `{path}`; add it to Configuration → Every key"


def test_duration_units_are_documented() -> None:
    from wirewatch.config.types import _UNITS

    for unit in _UNITS:
        assert f"`{unit}`" in README


def test_the_systemd_unit_can_write_the_default_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lines = (ROOT / "config" / "wirewatch.service").read_text(encoding="utf-8").splitlines()
    settings = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    service = {key: value for key, value in settings}  # one of each, except Environment
    env = dict(value.split("=", 1) for key, value in settings if key == "Environment")
    writable = [Path(p) for p in service["ReadWritePaths"].split()]
    state = Path("/var/lib") / service["StateDirectory"]
    assert service["ProtectSystem"] == "strict"  # so only ReadWritePaths (and the state folder) are writable

    config_dir = tmp_path / "etc" / "wirewatch"  # stands in for /etc/wirewatch: a config without `database:`
    config_dir.mkdir(parents=True)
    (config_dir / "wirewatch.yaml").write_text("feeds: []\n", encoding="utf-8")
    monkeypatch.setenv("WIREWATCH_DATABASE", env["WIREWATCH_DATABASE"])
    database = load_config(config_dir / "wirewatch.yaml").config.database
    assert database.startswith("sqlite:////")
    folder = Path(database.removeprefix("sqlite:///")).parent
    assert folder == state and folder in writable, (database, writable)
    assert Path(env["WIREWATCH_CONFIG"]).parent not in writable  # the config stays read-only to the daemon

    monkeypatch.delenv("WIREWATCH_DATABASE")  # without the unit's environment: beside the config, as before
    assert load_config(config_dir / "wirewatch.yaml").config.database == f"sqlite:///{config_dir / 'wirewatch.db'}"
