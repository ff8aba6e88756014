"""The sink of `wirewatch reprocess`: re-match stored items; with `--alert`, create the alerts new matches imply.

Without `--alert` nothing is sent: history is re-matched (what `export` and `why` show), never alerted.
With it, `create_alerts` runs as for a new item, so a story × watchlist that already has an alert
gets no second one (the outbox's unique key), and a story that newly matches gets exactly one.
"""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session

from wirewatch import metrics
from wirewatch.alerts.create import create_alerts
from wirewatch.alerts.matchstore import save_matches
from wirewatch.app import Wiring
from wirewatch.config.clock import as_utc
from wirewatch.ingest.item import Item, StoryRef
from wirewatch.ingest.store import StoryRow


class Rematch:
    """A pipeline sink that re-matches items and counts what it did (and, with `alert`, creates alerts)."""

    def __init__(self, wiring: Wiring, *, alert: bool) -> None:
        self.wiring, self.alert = wiring, alert
        self.matched = 0
        self.alerts: Counter[str] = Counter()

    def __call__(self, session: Session, item: Item, story: StoryRef) -> None:
        """Replace the item's stored matches; create alerts when asked to."""
        assert item.id is not None
        matches = self.wiring.matcher.match(item.title, item.text)
        save_matches(session, item.id, story.id, matches)
        self.matched += bool(matches)
        if self.alert and matches:
            row = session.get(StoryRow, story.id)  # the story as stored: its sources and copies go in the payload
            if row is not None:
                story = StoryRef(story.id, as_utc(row.first_seen) or story.first_seen, list(row.sources), row.items)
            created = create_alerts(session, item, story, matches, self.wiring.routes)
            metrics.ALERTS.inc(len(created))
            self.alerts.update(a.watchlist for a in created)

    def summary(self) -> str:
        """One line on matches and alerts, for the end of the command."""
        text = f"{self.matched} match a watchlist; "
        if not self.alert:
            return text + "no alerts created (reprocess never alerts on history; --alert creates the alerts " \
                          "new matches imply, once per story and watchlist)"
        total = sum(self.alerts.values())
        if not total:
            return text + "no new alerts (every matching story already had its alert)"
        by = ", ".join(f"{w} {n}" for w, n in sorted(self.alerts.items()))
        return text + f"created {total} alerts ({by}); the daemon or `wirewatch poll` delivers them"
