"""What became of one stored item, from match to delivery, as the lines `wirewatch why ITEM` prints (read-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlmodel import Session

from wirewatch import viewstore
from wirewatch.alerts.attempts import attempts_of
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.clock import as_utc, utcnow
from wirewatch.config.loader import Loaded
from wirewatch.explain import render, verdicts
from wirewatch.ingest.store import ItemRow, StoryRow
from wirewatch.reports import age, clip

MAX_ITEMS = 5


def find_items(session: Session, ref: str) -> list[ItemRow]:
    """Items `ref` names: a numeric id, a guid, a URL or an identity (several feeds may carry one guid)."""
    ref = ref.strip()
    if ref.isdigit():
        row = session.get(ItemRow, int(ref))
        if row is not None:
            return [row]
    return viewstore.items_named(session, ref, MAX_ITEMS + 1)


def _delivery_line(d: Any) -> str:
    now = utcnow()
    tries = f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}"
    if d.state == "delivered":
        text = f"delivered {age(d.delivered_at, now)} after {tries}"
    elif d.state == "dead":
        text = f"dead after {tries}"
    elif d.digest_id is not None or d.batched:
        text = f"{d.state}, batched into a digest" + (f" ({d.digest_id})" if d.digest_id else "")
    else:
        when = as_utc(d.next_attempt_at)
        text = f"{d.state} after {tries}, next try " + (age(when, now) if when and when > now else "now")
    if d.last_error and d.state != "delivered":
        text += f"; last error: {clip(' '.join(d.last_error.split()), 160)}"
    return f"      {d.channel}: {text}"


def _attempt_lines(conn: Connection, d: Any) -> list[str]:
    """One line per recorded try of a delivery: when, HTTP status, outcome, error."""
    out = []
    for t in attempts_of(conn, d.id, d.digest_id):
        status = f"HTTP {t['http_status']}" if t["http_status"] is not None else "no HTTP answer"
        where = f" (digest {t['digest_id']})" if t["digest_id"] is not None else ""
        error = f": {clip(' '.join(t['error'].split()), 120)}" if t["error"] else ""
        out.append(f"        try {t['attempt']}{where} {t['started_at']:%Y-%m-%d %H:%M:%SZ}: "
                   f"{status}, {t['outcome']}{error}")
    return out


def _alerts(conn: Connection, story_id: int | None) -> dict[str, list[Any]]:
    if story_id is None:
        return {}
    out: dict[str, list[Any]] = {}
    for row in viewstore.alerts_of_story(conn, story_id):
        out.setdefault(row.watchlist, []).append(row)
    return out


def _deliveries(conn: Connection, alert_id: int) -> list[Any]:
    return viewstore.deliveries_of_alert(conn, alert_id)


def explain_item(session: Session, loaded: Loaded, row: ItemRow) -> list[str]:
    """The lines `why` prints for one item."""
    now = utcnow()
    watchlists = [wl for _, wl in loaded.watchlists]
    matcher = compile_watchlists(watchlists)
    matched_now = {m.watchlist for m in matcher.match(row.title, row.text)}
    found = verdicts(watchlists, matcher.mentions(row.title, row.text), matched_now)
    stored = sorted({(m.watchlist, m.entity) for m in viewstore.stored_matches(session, row.id)})
    stored_lists = {w for w, _ in stored}
    lines = [f"item {row.id}: feed {row.feed}, guid {row.guid or '-'}", f"  url:     {row.url}",
             f"  title:   {clip(row.title, 100)}",
             f"  fetched: {age(row.fetched_at, now)}; published {age(row.published_at, now)}"]
    story = session.get(StoryRow, row.story_id) if row.story_id is not None else None
    if story is None:
        lines.append("story: none (the item was not placed in a story; it cannot alert)")
    else:
        first = "started it" if story.first_item_id == row.id else f"joined it (first item {story.first_item_id})"
        lines.append(f"story {story.id}: {story.items} cop{'y' if story.items == 1 else 'ies'} from {', '.join(story.sources) or '-'}; "
                     f"first seen {age(story.first_seen, now)}; this item {first}")
    lines.append("matching, with the rules loaded now:")
    lines += ["  " + line for v in found for line in render(v)] or ["  no watchlists are configured"]
    lines.append("stored matches: " + (", ".join(f"{w}/{e}" for w, e in stored) or
                                       "none (when the item was stored or last reprocessed)"))
    lines.append("alerts:")
    conn = session.connection()
    by_watchlist = _alerts(conn, row.story_id)
    for name in sorted({v.watchlist for v in found} | set(by_watchlist) | stored_lists):
        lines += _alert_lines(conn, name, row, by_watchlist.get(name, []), name in stored_lists, name in matched_now)
    return lines


def _alert_lines(conn: Connection, name: str, row: ItemRow, alerts: list[Any], stored: bool,
                 matches_now: bool) -> list[str]:
    mine = [a for a in alerts if a.item_id == row.id]
    created = next((a for a in alerts if a.type == "alert.created"), None)
    out: list[str] = []
    if not mine and created is not None:
        out.append(f"  {name}: no new alert: the story was already alerted ({created.public_id}, by item "
                   f"{created.item_id}); one alert per story and watchlist"
                   + ("" if stored else "; this item did not match it when stored"))
    elif not mine and stored:
        out.append(f"  {name}: matched when stored, but no alert exists for story {row.story_id} "
                   "(alerts older than the retention are pruned once delivered)")
    elif not mine and matches_now:
        out.append(f"  {name}: no alert: it matches under today's rules but did not when stored; "
                   "`wirewatch reprocess --alert` creates it")
    elif not mine:
        out.append(f"  {name}: no alert: the watchlist's rules did not match (see above)")
    for alert in mine:
        how = "throttled (max_per_hour reached): sent in the next digest" if alert.throttled else "sent on its own"
        out.append(f"  {name}: {alert.type} {alert.public_id} created by this item "
                   f"{age(alert.created_at, utcnow())}, {how}")
        deliveries = _deliveries(conn, alert.id)
        for d in deliveries:
            out += [_delivery_line(d), *_attempt_lines(conn, d)]
        if not deliveries:
            out.append("      no channels: the watchlist names none")
    return out
