"""Stored matches: which watchlist entities each item mentions (`export` reads them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from wirewatch.alerts.types import WatchlistMatch


class ItemMatch(SQLModel, table=True):
    """One (item, watchlist, entity) match with its mentions."""

    __tablename__ = "item_match"
    __table_args__ = (UniqueConstraint("item_id", "watchlist", "entity", name="uq_item_match"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(index=True)
    story_id: int | None = Field(default=None, index=True)
    watchlist: str = Field(max_length=200, index=True)
    entity: str = Field(max_length=200)
    salience: float = 0.0
    mentions: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def save_matches(session: Session, item_id: int, story_id: int | None, matches: Sequence[WatchlistMatch],
                 max_mentions: int = 20, *, new_item: bool = False) -> None:
    """Replace the stored matches of one item (a re-clean or edit may change them); `new_item`: none stored yet."""
    table = ItemMatch.__table__  # type: ignore[attr-defined]
    conn = session.connection()  # Core statements: this runs for every stored item
    if not new_item:
        conn.execute(table.delete().where(table.c.item_id == item_id))
    rows = [{"item_id": item_id, "story_id": story_id, "watchlist": wm.watchlist, "entity": entity.id,
             "salience": entity.salience,
             "mentions": [{"alias": m.alias, "field": m.field, "start": m.start, "end": m.end, "snippet": m.snippet}
                          for m in entity.mentions[:max_mentions]]}
            for wm in matches for entity in wm.entities]
    if rows:
        conn.execute(table.insert(), rows)


def matches_for(session: Session, item_ids: Iterable[int]) -> dict[int, list[dict[str, str]]]:
    """`[{"watchlist", "entity"}]` per item id, in a stable order."""
    ids = list(item_ids)
    out: dict[int, list[dict[str, str]]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(ItemMatch).where(col(ItemMatch.item_id).in_(ids[start : start + 500]))
            .order_by(col(ItemMatch.item_id), col(ItemMatch.watchlist), col(ItemMatch.entity))
        ).all()
        for row in rows:
            out[row.item_id].append({"watchlist": row.watchlist, "entity": row.entity})
    return out
