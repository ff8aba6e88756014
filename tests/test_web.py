"""The web console in a real browser: a real daemon on a real SQLite file, feeds and a webhook on 127.0.0.1.

Debian's chromium (installed by .ci/run) is driven headless by Playwright; no browser is downloaded.
The overview and story screenshots in docs/ are taken here.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.feedserver import FeedServer
from tests.helpers import free_port, rss, wait_for, write_config
from tests.receivers import Receiver, Reply

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs"
FOOTER = "Follow WireWatch Markets on every platform for the latest market news."
BODY = ("Microsoft said on Monday it will invest 5 billion dollars in cloud data centres across Japan over the "
        "next two years, its largest investment in the country, as demand for AI computing grows. ")
ZH = "微软周一表示，将在未来两年内向日本的云计算数据中心投资50亿美元，这是该公司在日本最大的一笔投资，人工智能算力需求持续增长。"
WATCHLIST = """watchlist: ai-cloud
channels: [desk]
entities:
  - {id: MSFT, name: Microsoft, aliases: [Microsoft, 微软], tickers: [MSFT]}
"""

if not os.path.exists(CHROMIUM):  # CI installs it (.ci/run); a developer without it skips with the reason
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must have {CHROMIUM} (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)


def _items() -> list[dict[str, str]]:
    items = [
        {"title": "Microsoft to invest $5bn in Japan cloud", "link": "http://example.invalid/msft", "guid": "msft",
         "body": f"<p>{BODY}</p><p>{FOOTER}</p>"},
        {"title": "<script>alert(1)</script>", "link": "http://example.invalid/xss", "guid": "xss",
         "body": "<p>A title that is markup must show as text, and this body holds no watched name at all.</p>"
                 f"<p>{FOOTER}</p>"},
        {"title": "微软将向日本云计算投资50亿美元", "link": "http://example.invalid/zh", "guid": "zh",
         "body": f"<p>{ZH}</p><p>{FOOTER}</p>"},
    ]
    for n in range(4):
        items.append({"title": f"Bond yields steady, day {n}", "link": f"http://example.invalid/b{n}",
                      "guid": f"b{n}", "body": f"<p>Treasury yields held near {4 + n / 10:.1f} percent on day {n} as "
                                               f"traders waited for the jobs report due later in the week.</p><p>{FOOTER}</p>"})
    return [{**i, "title": i["title"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")} for i in items]


@dataclass
class Console:
    """The running system the tests look at."""

    base: str
    tmp: Path
    config: Path
    db: Path
    receiver: Receiver
    browser: Browser


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(db) as conn:
            return list(conn.execute(sql).fetchall())
    except sqlite3.OperationalError:
        return []


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, cwd=config.parent)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A daemon with web.listen set, two feeds (one failing), a watchlist and a webhook that fails once."""
    tmp = tmp_path_factory.mktemp("web")
    (tmp / "watchlists").mkdir()
    (tmp / "watchlists" / "ai-cloud.yaml").write_text(WATCHLIST, encoding="utf-8")
    port = free_port()
    with FeedServer() as server, Receiver() as receiver:
        receiver.plan(*[Reply(500, body=b"receiver down for maintenance")] * 2)  # both alerts die
        server.add("/wire.xml", rss(_items(), "wire"))
        server.add("/copy.xml", rss([{"title": "Microsoft plans $5 billion Japan cloud investment",
                                      "link": "http://example.invalid/copy", "guid": "copy",
                                      "body": f"<p>{BODY}The company gave no figure for jobs.</p>"}], "copy"))
        server.add("/broken.xml", b"upstream exploded", status=500, content_type="text/plain")
        config = write_config(tmp, {"wire": server.url("/wire.xml"), "copy": server.url("/copy.xml"),
                                    "broken": server.url("/broken.xml")},
                              watchlists=["watchlists/*.yaml"],
                              channels={"desk": {"type": "webhook", "url": receiver.url, "timeout": "3s"}},
                              extra=f"retry: {{schedule: [0]}}\nweb: {{listen: '127.0.0.1:{port}'}}\n")
        db = tmp / "wirewatch.db"
        log = open(tmp / "daemon.log", "w")  # closed below
        proc = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=tmp)
        try:
            ready = wait_for(lambda: len(_rows(db, "select 1 from alert_deliveries where state = 'dead'")) == 2
                             and len(_rows(db, "select 1 from feed where last_polled_at is not null")) == 3,
                             timeout=60)
            assert ready, (tmp / "daemon.log").read_text()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                yield Console(f"http://127.0.0.1:{port}", tmp, config, db, receiver, browser)
                browser.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            log.close()
        assert code == 0, (tmp / "daemon.log").read_text()


@pytest.fixture
def page(console: Console) -> Iterator[Page]:
    """A fresh browser tab (its own cookies); any JavaScript dialog fails the test."""
    context = console.browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield tab
    context.close()
    assert dialogs == [], f"a script ran: {dialogs}"


def test_overview_lists_every_feed_failing_first_and_clicks_through_to_the_error(console: Console, page: Page) -> None:
    page.goto(console.base + "/")
    rows = page.locator("#feeds tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("broken")
    expect(rows.first).to_contain_text("failing (500")
    expect(rows.first.locator("td").nth(3)).to_contain_text("ago")  # failing since
    expect(page.locator("#feeds")).to_contain_text("wire")
    expect(page.locator("#feeds")).to_contain_text("copy")
    expect(page.locator(".cards")).to_contain_text("2 dead deliveries")
    assert page.locator("svg.chart rect.items").count() == 24
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "overview.png"), full_page=True)
    page.get_by_role("link", name="broken", exact=True).click()
    expect(page).to_have_url(console.base + "/feeds/broken")
    expect(page.locator("#last-error")).to_contain_text("HTTP 500")
    expect(page.locator("#polls")).to_contain_text("error")
    first = page.locator("#polls tbody tr").first  # from poll_log: the newest poll, its HTTP status and error
    expect(first.locator("td").nth(2)).to_have_text("500")
    expect(first.locator("td").nth(7)).to_contain_text("HTTP 500")
    stored = _rows(console.db, "select status, http_status from poll_log where feed = 'broken' order by id desc limit 1")
    assert stored == [("error", 500)]


def test_item_to_story_to_alert_to_delivery_and_retry_the_dead_one(console: Console, page: Page) -> None:
    page.goto(console.base + "/items")
    expect(page.locator("#items tbody tr")).to_have_count(8)
    page.get_by_role("link", name="Microsoft to invest $5bn in Japan cloud").click()
    expect(page.locator("h1")).to_contain_text("Story #")
    copies = page.locator("article.copy")
    expect(copies).to_have_count(2)  # the wire item and its copy from another feed
    whys = " | ".join(page.locator(".why").all_inner_texts())
    assert "first copy" in whys and "estimated Jaccard similarity 0." in whys, whys
    expect(page.locator("article.copy mark").first).to_have_text("Microsoft")
    expect(page.locator(".matches").first).to_contain_text("ai-cloud")
    expect(page.locator("#alerts")).to_contain_text("alert.created")
    page.screenshot(path=str(DOCS / "story.png"), full_page=True)
    page.locator("#alerts a.delivery").first.click()
    expect(page.locator("#state")).to_have_text("dead")
    expect(page.locator("#last-error")).to_contain_text("HTTP 500 receiver down for maintenance")
    delivery = int(page.url.rsplit("/", 1)[1])
    page.locator("#retry").click()
    expect(page.locator("#state")).not_to_have_text("dead")  # requeued: pending, or already sent
    assert wait_for(lambda: _rows(console.db, f"select state from alert_deliveries where id = {delivery}")
                    == [("delivered",)])
    page.reload()
    expect(page.locator("#state")).to_have_text("delivered")
    expect(page.locator("#attempts")).to_contain_text("2")
    tries = page.locator("#attempt-rows tbody tr")  # the delivery's attempt history: 500 and dead, then 200 and sent
    expect(tries).to_have_count(2)
    expect(tries.nth(0).locator("td.http")).to_have_text("500")
    expect(tries.nth(0)).to_contain_text("dead")
    expect(tries.nth(0).locator("td.err")).to_contain_text("HTTP 500 receiver down for maintenance")
    expect(tries.nth(1).locator("td.http")).to_have_text("200")
    expect(tries.nth(1)).to_contain_text("sent")
    assert _rows(console.db, f"select attempt, http_status, outcome from delivery_attempt where delivery_id = {delivery}"
                             " order by id") == [(1, 500, "dead"), (2, 200, "sent")]
    assert any("Microsoft" in r["body"] for r in console.receiver.delivered())


def test_a_title_that_is_markup_renders_as_text(console: Console, page: Page) -> None:
    page.goto(console.base + "/items")
    expect(page.locator("#items")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("script").count() == 0
    page.get_by_role("link", name="<script>alert(1)</script>").click()
    expect(page.locator("h1")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("script").count() == 0


def test_alerts_filter_by_state_and_channel(console: Console, page: Page) -> None:
    page.goto(console.base + "/alerts")
    expect(page.locator("#deliveries tbody tr").first).to_contain_text("desk")
    page.select_option("select[name=state]", "pending")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(console.base + "/alerts?watchlist=&channel=&state=pending")
    expect(page.locator("#deliveries")).to_contain_text("No deliveries match.")


def test_tester_highlights_mentions_gives_verdicts_and_backtests(console: Console, page: Page) -> None:
    page.goto(console.base + "/tester")
    page.fill("textarea[name=text]", "据报道，微软将在东京开设新的数据中心。Metaverse is not a company.")
    page.locator("#test").click()
    expect(page.locator("#verdicts")).to_contain_text("ai-cloud: MSFT")
    expect(page.locator("#highlighted mark")).to_have_text("微软")
    expect(page.locator("#candidates")).to_contain_text("kept")
    page.fill("textarea[name=text]", "Nothing watched here.")
    page.locator("#test").click()
    expect(page.locator("#verdicts")).to_contain_text("No watchlist would alert")
    page.fill("textarea[name=watchlist]", "watchlist: bonds\nentities:\n  - {id: UST, name: Treasuries, aliases: [Treasury]}\n")
    page.fill("input[name=since]", "1d")
    page.locator("#backtest").click()
    expect(page.locator("#backtest-summary")).to_contain_text("would have alerted among 8 items")
    expect(page.locator("#backtest-results")).to_contain_text("UST")


def test_search_finds_chinese_and_english_and_filters_by_feed_and_entity(console: Console, page: Page) -> None:
    page.goto(console.base + "/search?q=" + "微软")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results")).to_contain_text("微软将向日本云计算投资50亿美元")
    page.goto(console.base + "/search?q=cloud+data")
    expect(page.locator("#results tbody tr")).to_have_count(2)
    page.goto(console.base + "/search?q=cloud+data&feed=copy")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.goto(console.base + "/search?entity=MSFT&since=1d")
    expect(page.locator("#results tbody tr")).to_have_count(3)
    page.goto(console.base + "/search?q=yields&until=2000-01-01")
    expect(page.locator("#results")).to_contain_text("Nothing found.")


def test_pinning_and_disabling_a_learned_line_is_what_wirewatch_boilerplate_reads(console: Console, page: Page) -> None:
    page.goto(console.base + "/feeds/wire")
    row = page.locator("#learned tbody tr").filter(has_text=FOOTER)
    expect(row).to_contain_text("learned")
    row.get_by_role("button", name="Pin").click()
    expect(page.locator("#learned tbody tr").filter(has_text=FOOTER)).to_contain_text("pinned")
    assert "pinned" in _cli(console.config, "boilerplate", "--feed", "wire").stdout
    page.locator("#learned tbody tr").filter(has_text=FOOTER).get_by_role("button", name="Disable").click()
    expect(page.locator("#learned tbody tr").filter(has_text=FOOTER)).to_contain_text("disabled")
    assert "disabled" in _cli(console.config, "boilerplate", "--feed", "wire").stdout


def test_pause_and_resume_a_feed_from_its_page(console: Console, page: Page) -> None:
    page.goto(console.base + "/feeds/copy")
    page.get_by_role("button", name="Pause polling").click()
    expect(page.locator(".facts .pill")).to_have_text("paused")
    assert _rows(console.db, "select paused_at is not null from feed where name = 'copy'") == [(1,)]
    page.goto(console.base + "/")
    expect(page.locator("#feeds tbody tr").filter(has_text="copy")).to_contain_text("paused")
    page.get_by_role("link", name="copy", exact=True).click()
    page.get_by_role("button", name="Resume polling").click()
    expect(page.locator(".facts .pill")).to_have_text("ok")
    assert _rows(console.db, "select paused_at from feed where name = 'copy'") == [(None,)]


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    dead = _rows(console.db, "select id from alert_deliveries order by id limit 1")
    answer = httpx.post(f"{console.base}/deliveries/{dead[0][0]}/retry", data={"csrf": "guess"},
                        cookies={"ww_csrf": "something-else"})
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    page = httpx.get(console.base + "/")
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_wirewatch_web_alone_is_read_only_and_asks_for_its_token(console: Console) -> None:
    token = "s3cret-console-token-0123"
    config = console.tmp / "alone.yaml"
    port = free_port()
    text = console.config.read_text(encoding="utf-8").replace("web: {listen", "#")
    config.write_text(text + f"web: {{listen: '0.0.0.0:{port}', token: '{token}'}}\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "web"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=console.tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _answers(base + "/"), timeout=30)
        missing = httpx.get(base + "/")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(base + "/", headers={"authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
        assert httpx.get(base + "/", headers={"authorization": f"Bearer {token}"}).status_code == 200
        context = console.browser.new_context(http_credentials={"username": "ops", "password": token})
        tab = context.new_page()
        tab.goto(base + "/")
        expect(tab.locator("header .badge")).to_have_text("read-only")
        expect(tab.locator("#feeds tbody tr")).to_have_count(3)
        tab.goto(base + "/alerts")
        tab.locator("#deliveries a").first.click()
        if tab.locator("#retry").count():
            expect(tab.locator("#retry")).to_be_disabled()
        tab.goto(base + "/feeds/wire")
        expect(tab.locator("#learned button").first).to_be_disabled()
        expect(tab.locator("#polls tbody tr").first).to_contain_text("ok")  # the daemon's polls, read from poll_log
        tab.goto(base + "/feeds/broken")
        expect(tab.locator("#polls tbody tr").first.locator("td").nth(2)).to_have_text("500")
        context.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_a_non_loopback_listen_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, {}, extra=f"web: {{listen: '0.0.0.0:{free_port()}'}}\n")
    done = subprocess.run([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "web.token" in done.stderr
