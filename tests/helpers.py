"""Small builders shared by end-to-end tests: a config file in a temp folder, an App over it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

ACME_WATCHLIST = "watchlist: acme\nchannels: [hook]\nentities:\n  - {id: ACME, name: Acme, aliases: [Acme]}\n"
"""One entity (Acme) alerted to the channel `hook`: the watchlist the fault and delivery tests share."""

RSS_ITEM = """<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>
<pubDate>Fri, 27 Nov 2026 09:30:00 +0000</pubDate><description><![CDATA[{body}]]></description></item>"""


def rss(items: list[dict[str, str]], title: str = "test feed") -> bytes:
    """A small RSS 2.0 document from dicts with title, link, guid, body."""
    body = "".join(RSS_ITEM.format(**i) for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://example.invalid/</link><description>t</description>{body}</channel></rss>").encode()


def write_config(tmp: Path, feeds: Mapping[str, str], *, database: str | None = None,
                 watchlists: list[str] | None = None, channels: Mapping[str, object] | None = None,
                 extra: str = "") -> Path:
    """Write a wirewatch.yaml for `feeds` (name → URL) into tmp; private networks allowed (127.0.0.1)."""
    db = database or f"sqlite:///{tmp / 'wirewatch.db'}"
    lines = [f"database: {json.dumps(db)}",
             "defaults: {interval: 1m, jitter: 0}",
             "fetch: {allow_private_networks: true, timeout: 3s, connect_timeout: 2s, deadline: 5s, "
             "max_bytes: 1MiB}",
             "feeds:"]
    lines += [f"  - {{name: {name}, url: {json.dumps(url)}}}" for name, url in feeds.items()] or ["  []"]
    if not feeds:
        lines[-2] = "feeds: []"
        lines.pop()
    lines.append(f"watchlists: {json.dumps(watchlists or [])}")
    lines.append(f"channels: {json.dumps(dict(channels or {}))}")
    path = tmp / "wirewatch.yaml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that cannot bind port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll `predicate` every 0.1 s until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def insert_legacy_items(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Items written straight into `item` as an older schema had it (rows: id, ident, title, body; story = id)."""
    conn.execute(text(
        "INSERT INTO item (id, feed, identity, url, title, raw_summary, raw_content, raw_hash, text, content_hash, "
        "story_id, fetched_at) VALUES (:id, 'f', :ident, '', :title, '', '', '', :body, '', :id, :now)"),
        [{**row, "now": now} for row in rows])
