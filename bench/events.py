"""Templated events end to end: story precision/recall and alerts on `tests/events_corpus.py`.

    python bench/events.py [--text-only]

Serves the generated corpus (33 templated events in 6 templates across zh/ja/en, their updates,
and 3 events told in two or three languages) on 127.0.0.1 in two rounds, polls it through the real
pipeline into a fresh SQLite file with one watchlist per company and one `desk` watchlist over all
of them, and prints pairwise story precision/recall and the events left without their alert.
`--text-only` switches the event-signature refusals off, which is what text similarity alone did
before issue #20 (cross-language grouping stays on).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    """Run the templated corpus and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text-only", action="store_true", help="no event-signature refusals (before #20)")
    args = ap.parse_args()
    from tests import events_corpus
    from tests.test_events import run_corpus
    from wirewatch.ingest import dedupe, storystore

    if args.text_only:
        dedupe.event_refusal = lambda sig: (lambda cand: None)  # type: ignore[assignment]
        storystore.StoryAssigner._other_code = lambda self, story, code: None  # type: ignore[method-assign]
    events = events_corpus.build()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):  # the console channel
        found, alerts, _ = run_corpus(Path(tmp))
    gold = {p.guid: e.id for e in events for p in e.pieces}
    precision, recall = events_corpus.pairwise(gold, found)
    created = Counter((story, watchlist) for story, watchlist, kind in alerts if kind == "alert.created")
    own = sum(created[(found[e.pieces[0].guid], e.company)] != 1 for e in events)
    desk_alerted = {found[e.pieces[0].guid] for e in events if created[(found[e.pieces[0].guid], "desk")] == 1}
    print(f"events {len(events)}  items {len(gold)}  stories {len(set(found.values()))}")
    print(f"story_p {precision:.3f}  story_r {recall:.3f}")
    print(f"events without their company watchlist's alert: {own}")
    print(f"events without an alert of their own on the desk watchlist: {len(events) - len(desk_alerted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
