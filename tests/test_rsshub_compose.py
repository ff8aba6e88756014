"""The optional RSSHub service of docker-compose.yml agrees with what the README tells users to do with it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from wirewatch.config.models import FeedConfig

ROOT = Path(__file__).resolve().parent.parent


def rsshub() -> dict[str, object]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    service: dict[str, object] = services["rsshub"]
    return service


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("### RSSHub", 1)[1].split("\n## ", 1)[0]


def test_rsshub_is_optional_behind_its_profile_and_published_on_loopback_only() -> None:
    service = rsshub()
    assert service["profiles"] == ["rsshub"]
    assert str(service["image"]).startswith("diygod/rsshub")
    assert service["ports"] == ["127.0.0.1:1200:1200"]
    assert "--profile rsshub up" in readme_section()


def test_the_readme_example_feed_reaches_the_service_and_validates() -> None:
    section = readme_section()
    [block] = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    [feed] = [FeedConfig.model_validate(f) for f in yaml.safe_load(block)]
    url = urlsplit(feed.url)
    container_port = str(rsshub()["ports"][0]).rsplit(":", 1)[1]  # type: ignore[index]
    assert (url.hostname, str(url.port)) == ("rsshub", container_port)
    assert feed.kind == "feed"  # RSSHub serves RSS: an ordinary feed
    assert "allow_private_networks: true" in section  # the compose network is private


def test_the_readme_states_the_service_environment() -> None:
    section = readme_section()
    environment = rsshub()["environment"]
    assert isinstance(environment, dict) and environment
    for key, value in environment.items():
        assert f"{key}: {value}" in section, key
