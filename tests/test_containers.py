"""No Docker engine runs here: check that the Dockerfile, compose file, .env.example and example config agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from wirewatch.cli import build_parser
from wirewatch.config import load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def compose() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")  # argparse has no public way
    return set(action.choices)  # type: ignore[arg-type]


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def test_compose_services_and_healthchecks(compose: dict[str, object]) -> None:
    services = compose["services"]
    assert isinstance(services, dict)
    assert {n for n, s in services.items() if not s.get("profiles")} == {"wirewatch", "postgres", "mailpit"}
    ww = services["wirewatch"]
    assert ww["command"][0] in subcommands() and ww["command"][0] == "run"
    assert ww["healthcheck"]["test"][1:] == ["wirewatch", "health"] and "health" in subcommands()
    assert ww["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pgdata" in compose["volumes"]  # type: ignore[operator]
    assert {"127.0.0.1:8025:8025", "127.0.0.1:1025:1025"} <= set(services["mailpit"]["ports"])


def test_compose_mounts_the_example_config_read_only_where_the_env_points(compose: dict[str, object]) -> None:
    ww = compose["services"]["wirewatch"]  # type: ignore[index]
    mounts = {m.split(":")[1]: m for m in ww["volumes"]}
    config_path = Path(ww["environment"]["WIREWATCH_CONFIG"])
    mount = mounts[str(config_path.parent)]
    assert mount.endswith(":ro")
    assert (ROOT / mount.split(":")[0].lstrip("./") / config_path.name).is_file()


def test_env_example_covers_every_variable_the_example_config_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "config" / "examples" / "wirewatch.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    env = env_example()
    assert used <= set(env), f"missing from .env.example: {used - set(env)}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loaded = load_config(ROOT / "config" / "examples" / "wirewatch.yaml")
    cfg = loaded.config
    assert cfg.database.startswith("postgresql+psycopg://") and "@postgres:5432/" in cfg.database
    mail = cfg.channels["mail"]
    assert mail.type == "email" and mail.host == "mailpit" and mail.port == 1025  # type: ignore[union-attr]
    assert cfg.metrics.listen is not None and cfg.metrics.listen.endswith(":9464")


def test_dockerfile_runs_the_daemon_as_non_root_with_the_right_config_path(compose: dict[str, object]) -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.1[1-9]-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert 'ENTRYPOINT ["wirewatch"]' in text and 'CMD ["run"]' in text
    assert 'CMD ["wirewatch", "health"]' in text
    assert "EXPOSE 9464" in text
    env_path = re.search(r"WIREWATCH_CONFIG=(\S+)", text)
    assert env_path and env_path.group(1) == compose["services"]["wirewatch"]["environment"]["WIREWATCH_CONFIG"]  # type: ignore[index]
    for folder in ("config", "ingest", "alerts", "wirewatch"):
        assert f"COPY {folder} ./{folder}" in text


def test_dockerfile_builds_the_native_matcher_and_refuses_an_image_without_it() -> None:
    """The runtime image has no compiler: a build stage makes the wheels, the final stage checks the import."""
    text = (ROOT / "Dockerfile").read_text()
    _, build, final = re.split(r"^FROM ", text, flags=re.M)
    assert re.match(r"python:3\.1[1-9]-slim AS build$", build, re.M)
    assert re.search(r"apt-get install .*\bgcc\b", build) and "COPY pyproject.toml setup.py" in build
    assert "pip wheel" in build and "/wheels '.[postgres,fulltext]'" in build
    assert final.startswith("python:3.1") and "COPY --from=build /wheels /wheels" in final
    assert "--no-index --find-links /wheels 'wirewatch[postgres,fulltext]'" in final
    assert 'python -c "import wirewatch.alerts._scan"' in final
    assert "gcc" not in final
    assert "**/*.so" in (ROOT / ".dockerignore").read_text().splitlines()  # no host-built module in the image


def test_systemd_unit_runs_the_daemon_and_reloads_with_sighup() -> None:
    text = (ROOT / "config" / "wirewatch.service").read_text()
    assert re.search(r"^ExecStart=\S+/wirewatch run$", text, re.M)
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text and "KillSignal=SIGTERM" in text
    assert "User=wirewatch" in text
