"""`wirewatch stories --explain ID`: the items of one story, and for each why it joined."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wirewatch import viewstore
from wirewatch.ingest.event import EventSignature
from wirewatch.ingest.store import ItemSignature, StoryRow


def explain_lines(engine: Engine, story_id: int) -> list[str]:
    """Human-readable lines: the story, then per item its outlet, language, entities, figures and join reason."""
    with Session(engine) as session:
        story = session.get(StoryRow, story_id)
        if story is None:
            return [f"no story {story_id}"]
        items = viewstore.story_items(session, story_id)
        signatures = viewstore.signatures_of(session, [i.id for i in items if i.id is not None])
    lines = [f"story {story_id}: {story.title}",
             f"  {story.items} items, {story.updates} updates, sources: {', '.join(story.sources)}"]
    for item in items:
        assert item.id is not None
        sig = signatures.get(item.id)
        event = EventSignature.from_json(sig.event) if sig is not None else None
        lines.append(f"item {item.id} [{item.feed}] {item.title}")
        if event is not None:
            lines.append(f"  language {event.lang or '?'}; principal {event.principal or '-'}"
                         f"{'; code ' + event.code if event.code else ''}{'; marked as update' if event.update else ''}")
            lines.append(f"  entities: {', '.join(sorted(event.entities)) or '-'}")
            lines.append(f"  figures: {', '.join(sorted(event.figures)) or '-'}")
        lines += ["  " + line for line in _why(sig)]
    return lines


def _why(sig: ItemSignature | None) -> list[str]:
    if sig is None:
        return ["why: not in the story index any more (older than dedupe.window)"]
    if not sig.joined:
        return ["why: stored before join reasons were kept"]
    reason: dict[str, Any] = json.loads(sig.joined)
    via = reason.get("via")
    out = []
    if via == "text":
        out.append(f"why: text similarity {reason.get('score')} with item {reason.get('item')} "
                   f"({'an update' if reason.get('update') else 'a copy'}): {reason.get('reason')}")
    elif via == "event":
        out.append(f"why: another language, event agreement {reason.get('score')} with item {reason.get('item')}")
        out.append(f"  shared: {', '.join(reason.get('shared') or []) or '-'}")
    elif via == "update":
        out.append(f"why: a marked update of item {reason.get('item')} (same subject and figures)")
        out.append(f"  shared: {', '.join(reason.get('shared') or []) or '-'}")
    elif via == "exact":
        out.append(f"why: {reason.get('reason')}")
    elif via == "edit":
        out.append("why: edited in place (same feed and identity)")
    else:
        out.append(f"why: started the story ({reason.get('reason')})")
    refused = reason.get("refused") or []
    out.append(f"conflicts checked: {len(refused)} similar item(s) refused" if refused else
               "conflicts checked: none found")
    out += [f"  refused {r}" for r in refused]
    return out


def cmd_explain(args: argparse.Namespace) -> int:
    """Print why each item of story `args.explain` is in it."""
    from wirewatch.cli_common import open_readonly

    with open_readonly(args.config) as ro:  # a report: never migrates, never syncs feeds
        lines = explain_lines(ro.engine, args.explain)
    if lines[0].startswith("no story"):
        print(f"error: {lines[0]}", file=sys.stderr)
        return 2  # an unknown name is a usage error, as everywhere else
    print("\n".join(lines))
    return 0
