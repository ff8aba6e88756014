"""The CLI's other commands as a user runs them: clean, match, backtest, reprocess, alerts, test-alert, db, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, write_config
from tests.receivers import Receiver

WATCHLIST = """\
watchlist: tech
channels: [hook]
entities:
  - {id: MSFT, name: Microsoft, aliases: [Microsoft, 微软, マイクロソフト], tickers: [MSFT]}
  - {id: AMZN, name: Amazon, aliases: [Amazon, 亚马逊], exclude: [Amazon rainforest]}
"""
ITEMS = [{"title": "Microsoft results", "link": "http://example.invalid/1", "guid": "1",
          "body": "<p>Microsoft beat estimates on cloud demand; Azure grew 40%.</p>"},
         {"title": "Rainforest", "link": "http://example.invalid/2", "guid": "2",
          "body": "<p>The Amazon rainforest lost less cover this year.</p>"}]


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.fixture
def setup(tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    server = FeedServer().start()
    server.add("/f.xml", rss(ITEMS))
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "tech.yaml").write_text(WATCHLIST, encoding="utf-8")
    config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["watchlists/*.yaml"],
                          channels={"hook": {"type": "webhook", "url": receiver.url,
                                             "secret": "whsec_dGVzdHNlY3JldA=="}})
    yield dict(os.environ, WIREWATCH_CONFIG=str(config), WW_DIR=str(tmp_path))
    server.stop()


def test_clean_prints_the_article_and_explains_what_it_removed() -> None:
    html = ("<p>炒股就看金麒麟分析师研报，权威，专业，及时，全面，助您挖掘潜力主题机会！</p><p>(来源:财联社)</p>"
            "<p>　　宁德时代发布新一代电池。</p><p>责任编辑：张三 SF001</p>")
    out = cli("clean", "--explain", stdin=html)
    assert out.returncode == 0
    assert out.stdout.strip() == "宁德时代发布新一代电池。"
    assert "source: 财联社" in out.stderr and "removed by sina." in out.stderr
    assert cli("clean", "--source-only", stdin=html).stdout.strip() == "财联社"


def test_match_prints_json_and_explains_candidates(tmp_path: Path) -> None:
    wl = tmp_path / "w.yaml"
    wl.write_text(WATCHLIST, encoding="utf-8")
    out = cli("match", "--watchlist", str(wl), stdin="微软与亚马逊在Amazon rainforest附近… $MSFT")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [e["id"] for e in result[0]["entities"]] == ["MSFT", "AMZN"] or \
        sorted(e["id"] for e in result[0]["entities"]) == ["AMZN", "MSFT"]
    explained = json.loads(cli("match", "--watchlist", str(wl), "--explain", stdin="Amazon rainforest").stdout)
    assert explained and "excluded" in json.dumps(explained)


def test_poll_then_backtest_reprocess_alerts_and_export(setup: dict[str, str], receiver: Receiver) -> None:
    assert cli("poll", env=setup).returncode == 0
    assert len(receiver.delivered()) == 1  # Microsoft; the rainforest item is excluded
    body = json.loads(str(receiver.delivered()[0]["body"]))
    assert body["type"] == "alert.created" and body["entities"][0]["id"] == "MSFT"
    export = [json.loads(line) for line in cli("export", env=setup).stdout.splitlines()]
    assert [e["matches"] for e in export] == [[{"watchlist": "tech", "entity": "MSFT"}], []]
    wl = Path(setup["WW_DIR"]) / "watchlists" / "tech.yaml"
    back = cli("backtest", "--watchlist", str(wl), "--since", "1d", env=setup)
    assert back.returncode == 0 and json.loads(back.stdout.splitlines()[0])["entities"] == ["MSFT"]
    assert "1 stories would have alerted" in back.stderr
    re = cli("reprocess", env=setup)
    assert re.returncode == 0 and "reprocessed 2 items" in re.stderr
    assert len(receiver.delivered()) == 1  # reprocessing never alerts again
    delivered = [json.loads(line) for line in cli("alerts", "--json", "--state", "delivered", env=setup).stdout.splitlines()]
    assert len(delivered) == 1
    assert cli("alerts", "--json", "--state", "dead", env=setup).stdout == ""
    assert cli("alerts", "retry", "--all-dead", env=setup).stdout.strip() == "requeued 0 deliveries"
    assert cli("alerts", "retry", env=setup).returncode == 2


def test_test_alert_sends_a_signed_sample(setup: dict[str, str], receiver: Receiver) -> None:
    out = cli("test-alert", "--channel", "hook", env=setup)
    assert out.returncode == 0, out.stderr
    assert len(receiver.delivered()) == 1 and "webhook-signature" in {k.lower() for k in receiver.delivered()[0]["headers"]}
    assert cli("test-alert", "--channel", "nope", env=setup).returncode == 2


def test_db_upgrade_and_unknown_config_exit_codes(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    out = cli("--config", str(config), "db", "upgrade")
    assert out.returncode == 0 and "database at revision" in out.stdout
    assert cli("--config", str(tmp_path / "missing.yaml"), "check").returncode == 2


def test_demo_runs_offline_and_prints_alerts() -> None:
    out = cli("demo", "--seconds", "12")
    assert out.returncode == 0, out.stderr
    assert "== ALERT demo:" in out.stdout and "NVIDIA" in out.stdout
    assert "rainforest" not in out.stdout  # the Amazon rainforest item matches nothing
