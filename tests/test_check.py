"""`wirewatch check` catches what `run` would trip on: each bad config exits 2 naming file, line and field."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_config import GOOD_CONFIG, GOOD_WATCHLIST, write
from wirewatch.app import build_wiring
from wirewatch.cli import main
from wirewatch.config import ConfigError

APPRISE = GOOD_CONFIG + "  chat: {type: apprise, urls: ['json://127.0.0.1:9/x', '%s']}\n"
FEED_LINE = "    url: https://a.example/feed.xml\n"

# (case, config text, expected message without the folder prefix)
BAD: list[tuple[str, str, str]] = [
    ("secret without whsec_", GOOD_CONFIG.replace("whsec_dGVzdA==", "hunter2"),
     "wirewatch.yaml:7: channels.desk.secret: expected a Standard Webhooks secret: whsec_ followed by base64 "
     "(the value given does not start with whsec_)"),
    ("secret not base64", GOOD_CONFIG.replace("whsec_dGVzdA==", "whsec_not*base64"),
     "wirewatch.yaml:7: channels.desk.secret: expected whsec_ followed by base64; the part after whsec_ is not base64"),
    ("secret from an empty variable", GOOD_CONFIG.replace("whsec_dGVzdA==", "'${WW_CHECK_EMPTY}'"),
     "wirewatch.yaml:7: channels.desk.secret: the secret is empty (an environment variable set to ''?); set it to "
     "whsec_ followed by base64, or remove the key to send unsigned webhooks"),
    ("digest every sometimes", GOOD_CONFIG.replace("secret: whsec_dGVzdA==}", "secret: whsec_dGVzdA==, "
                                                   "mode: digest, every: sometimes}"),
     "wirewatch.yaml:7: channels.desk.every: expected a duration like 1h or a 5-field cron expression like "
     "'0 8 * * 1-5', got 'sometimes' (Wrong number of fields; got 1, expected 5)"),
    ("digest cron out of range", GOOD_CONFIG.replace("secret: whsec_dGVzdA==}", "secret: whsec_dGVzdA==, "
                                                     "mode: digest, every: '0 25 * * *'}"),
     "wirewatch.yaml:7: channels.desk.every: expected a duration like 1h or a 5-field cron expression like "
     "'0 8 * * 1-5', got '0 25 * * *' (Error validating expression '25': the last value (25) is higher than the "
     "maximum value (23))"),
    ("apprise URL of no service", APPRISE % "nosuchservice://token",
     "wirewatch.yaml:8: channels.chat.urls[1]: urls[1] (nosuchservice://…) is not a URL Apprise can use; check it "
     "against `apprise --details` or the Apprise wiki"),
    ("apprise URL missing its parts", APPRISE % "tgram://",
     "wirewatch.yaml:8: channels.chat.urls[1]: urls[1] (tgram://…) is not a URL Apprise can use; check it "
     "against `apprise --details` or the Apprise wiki"),
    ("webhook template does not compile", GOOD_CONFIG + "  raw:\n    type: webhook\n    url: https://h.example/y\n"
     "    template: '{\"t\": {{ alert.title | tojson }'\n",
     "wirewatch.yaml:11: channels.raw.template: the Jinja2 template does not compile: template line 1: "
     "unexpected '}'"),
    ("chat template does not compile", GOOD_CONFIG + "  chat:\n    type: apprise\n    urls: ['json://127.0.0.1:9/x']\n"
     "    template: |\n      {% for a in alerts %}\n      {{ a.title }}\n",
     "wirewatch.yaml:11: channels.chat.template: the Jinja2 template does not compile: template line 2: Unexpected "
     "end of template. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs "
     "to be closed is 'for'."),
    ("two addresses in one to: item", GOOD_CONFIG + "  mail: {type: email, host: smtp.example, from: w@example.com, "
     "to: ['a@example.com, b@example.com']}\n",
     "wirewatch.yaml:8: channels.mail.to[0]: expected one e-mail address like desk@example.com or "
     "'Desk <desk@example.com>' (a list takes one address per item), got 'a@example.com, b@example.com'"),
    ("from: not an address", GOOD_CONFIG + "  mail: {type: email, host: smtp.example, from: wirewatch, "
     "to: [a@example.com]}\n",
     "wirewatch.yaml:8: channels.mail.from: expected one e-mail address like desk@example.com or "
     "'Desk <desk@example.com>' (a list takes one address per item), got 'wirewatch'"),
    ("watchlist glob matching nothing", GOOD_CONFIG.replace("watchlists/*.yaml", "lists/*.yaml"),
     "wirewatch.yaml:5: watchlists[0]: 'lists/*.yaml' matches no file (looked for lists/*.yaml)"),
    ("loopback feed", GOOD_CONFIG.replace("https://a.example/feed.xml", "http://127.0.0.1:8080/feed.xml"),
     "wirewatch.yaml:4: feeds[0].url: 127.0.0.1 is a loopback address, and fetch.allow_private_networks is false, "
     "so every poll would be refused; set it to true to poll such feeds"),
    ("localhost feed", GOOD_CONFIG.replace("https://a.example/feed.xml", "http://localhost/feed.xml"),
     "wirewatch.yaml:4: feeds[0].url: localhost is this machine (loopback), and fetch.allow_private_networks is "
     "false, so every poll would be refused; set it to true to poll such feeds"),
    ("private network feed", GOOD_CONFIG.replace("https://a.example/feed.xml", "http://192.168.1.20/rss"),
     "wirewatch.yaml:4: feeds[0].url: 192.168.1.20 is a private address, and fetch.allow_private_networks is "
     "false, so every poll would be refused; set it to true to poll such feeds"),
    ("IPv6 loopback feed", GOOD_CONFIG.replace("https://a.example/feed.xml", "http://[::1]:8080/rss"),
     "wirewatch.yaml:4: feeds[0].url: ::1 is a loopback address, and fetch.allow_private_networks is "
     "false, so every poll would be refused; set it to true to poll such feeds"),
]


@pytest.mark.parametrize(("case", "config", "expected"), BAD, ids=[b[0] for b in BAD])
def test_check_exits_2_naming_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch, case: str, config: str,
                                                  expected: str) -> None:
    monkeypatch.setenv("WW_CHECK_EMPTY", "")
    path = write(tmp_path, config)
    expected = expected.replace("{dir}", str(tmp_path))
    with pytest.raises(ConfigError) as err:  # the daemon's reload path refuses it too
        build_wiring(path)
    assert expected in [str(p).replace(str(tmp_path) + "/", "") for p in err.value.problems], case
    assert main(["--config", str(path), "check"]) == 2
    assert expected in capsys.readouterr().err.replace(str(tmp_path) + "/", "")


GOOD_VARIANTS: list[tuple[str, str]] = [
    ("unsigned webhook (no secret key)", GOOD_CONFIG.replace(", secret: whsec_dGVzdA==", "")),
    ("digest every 1h", GOOD_CONFIG.replace("whsec_dGVzdA==}", "whsec_dGVzdA==, mode: digest, every: 1h}")),
    ("digest on a cron", GOOD_CONFIG.replace("whsec_dGVzdA==}", "whsec_dGVzdA==, mode: digest, "
                                             "every: '0 8 * * 1-5'}")),
    ("apprise URLs Apprise parses", APPRISE % "tgram://123456789:abcdefg_hijklmnop/12345"),
    ("loopback feed with private networks allowed",
     GOOD_CONFIG.replace("https://a.example/feed.xml", "http://127.0.0.1:8080/feed.xml")
     + "fetch: {allow_private_networks: true}\n"),
    ("a broken template on a disabled channel",
     GOOD_CONFIG + "  muted: {type: apprise, urls: ['json://127.0.0.1:9/x'], template: '{{ x', enabled: false}\n"),
    ("named addresses", GOOD_CONFIG + "  mail: {type: email, host: smtp.example, from: 'Wire <w@example.com>', "
     "to: ['\"Desk, Tokyo\" <d@example.com>', e@example.com]}\n"),
    ("public address literal", GOOD_CONFIG.replace("https://a.example/feed.xml", "http://8.8.8.8/feed.xml")),
]


@pytest.mark.parametrize(("case", "config"), GOOD_VARIANTS, ids=[g[0] for g in GOOD_VARIANTS])
def test_check_passes_what_run_can_use(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                       config: str) -> None:
    path = write(tmp_path, config)
    assert main(["--config", str(path), "check"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith("ok: ")


# Watchlists that validate but do not compile into a matcher: `run` fails at start, so `check` must too.
WATCHLIST_BAD: list[tuple[str, str, str]] = [
    ("ticker that is not a symbol", GOOD_WATCHLIST + "    tickers: [MS FT]\n",
     "watchlists/ai.yaml:7: entities[0].tickers: ticker 'MS FT' is not a symbol"),
    ("unknown market suffix", GOOD_WATCHLIST + "    tickers: [7203.XX]\n",
     "watchlists/ai.yaml:7: entities[0].tickers: ticker '7203.XX': unknown market suffix .XX"),
    ("exclude keyword too short", GOOD_WATCHLIST + "exclude_keywords: [ok phrase, ' x ']\n",
     "watchlists/ai.yaml:7: exclude_keywords[1]: keyword ' x ' is shorter than 2 characters"),
    ("keyword too short after folding", GOOD_WATCHLIST + "keywords: ['ａ']\n",
     "watchlists/ai.yaml:7: keywords[0]: keyword 'ａ' is shorter than 2 characters; it would match almost anywhere"),
]


@pytest.mark.parametrize(("case", "watchlist", "expected"), WATCHLIST_BAD, ids=[w[0] for w in WATCHLIST_BAD])
def test_check_compiles_the_watchlists(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                       watchlist: str, expected: str) -> None:
    path = write(tmp_path, GOOD_CONFIG, watchlist)
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert any(line.strip().startswith(expected) for line in err.splitlines()), err


# The package is made unimportable in a fresh interpreter, as if it were not installed: nothing of ours is faked.
BLOCKED_RUN = textwrap.dedent("""\
    import sys
    for name in sys.argv[1].split(","):
        sys.modules[name] = None
    from wirewatch.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def check_without(tmp_path: Path, modules: str, config: str) -> subprocess.CompletedProcess[str]:
    path = write(tmp_path, config)
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, modules, "--config", str(path), "check"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def test_full_text_without_trafilatura_names_the_extra(tmp_path: Path) -> None:
    config = GOOD_CONFIG.replace(FEED_LINE, FEED_LINE + "    full_text: true\n")
    out = check_without(tmp_path, "trafilatura", config)
    assert out.returncode == 2, out.stderr
    assert ("wirewatch.yaml:5: feeds[0].full_text: full_text: true needs the trafilatura package, which is not "
            "installed: pip install 'wirewatch[fulltext]'") in out.stderr
    assert check_without(tmp_path, "trafilatura", GOOD_CONFIG).returncode == 0  # only a feed that uses it needs it


def test_postgres_url_without_psycopg_names_the_extra(tmp_path: Path) -> None:
    for url in ("postgresql+psycopg://wirewatch@127.0.0.1:5432/wirewatch", "postgresql://u@127.0.0.1/db"):
        out = check_without(tmp_path, "psycopg", GOOD_CONFIG.replace("sqlite:///w.db", url))
        assert out.returncode == 2, out.stderr
        assert ("wirewatch.yaml:1: database: PostgreSQL needs the psycopg package, which is not installed: "
                "pip install 'wirewatch[postgres]'") in out.stderr
    assert check_without(tmp_path, "psycopg", GOOD_CONFIG).returncode == 0


def test_missing_extras_pass_when_installed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = GOOD_CONFIG.replace(FEED_LINE, FEED_LINE + "    full_text: true\n").replace(
        "sqlite:///w.db", "postgresql+psycopg://wirewatch@127.0.0.1:5432/wirewatch")
    assert main(["--config", str(write(tmp_path, config)), "check"]) == 0, capsys.readouterr().err
