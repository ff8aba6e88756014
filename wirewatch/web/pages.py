"""The console's pages: each handler reads through `wirewatch.web.store` (in the thread pool) and renders.

Handlers hold no SQL. Forms that write (pin/disable a learned line, pause a feed, retry a delivery)
are refused in read-only mode and without a valid CSRF token.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from wirewatch.alerts.match import Matcher
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.clock import utcnow
from wirewatch.config.errors import ConfigError
from wirewatch.config.loader import load_watchlist
from wirewatch.config.types import parse_duration
from wirewatch.logs import redact
from wirewatch.web import searchstore, store, views
from wirewatch.web.security import CSRF_COOKIE, csrf_ok, new_csrf, origin_ok

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
MAX_FORM = 1024 * 1024
BACKTEST_MAX = 5000
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters.update(age=views.age, iso=views.iso, duration=views.duration, redact=redact)


def _console(request: Request) -> Any:
    return request.app.state.console


async def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf()
    console = _console(request)
    html = await run_in_threadpool(TEMPLATES.get_template(template).render, csrf=csrf, path=request.url.path,
                                   readonly=console.writes is None, **context)
    response = HTMLResponse(html, status)
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
    return response


async def _form(request: Request, writes: bool = True) -> dict[str, str]:
    """The posted form, after the CSRF and origin checks (403) and, for writes, the read-only check."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "expected a form (application/x-www-form-urlencoded)")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise HTTPException(413, "form too large (1 MiB at most)")
    data = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    if not csrf_ok(request.cookies.get(CSRF_COOKIE), data.get("csrf")):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and submit again")
    if not origin_ok(request.headers.get("origin"), request.headers.get("host")):
        raise HTTPException(403, "cross-origin form refused")
    if writes and _console(request).writes is None:
        raise HTTPException(403, "this console is read-only (`wirewatch web`); use the daemon's console to change things")
    return data


async def _read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Reads (on the console's read-only engine) and rendering: in Starlette's thread pool."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def _write(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """A form's write: on the daemon's database gateway, whose writer thread all the daemon's writes share."""
    db = _console(request).db
    return await db.run(fn, *args) if db is not None else await _read(fn, *args)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


async def not_found(request: Request, exc: Exception) -> Response:
    """404 page."""
    detail = exc.detail if isinstance(exc, HTTPException) else "not found"
    return await _render(request, "error.html", 404, title="Not found", message=detail)


async def not_allowed(request: Request, exc: Exception) -> Response:
    """405 page."""
    return await _render(request, "error.html", 405, title="Method not allowed", message="method not allowed")


async def _refused(request: Request, exc: HTTPException) -> Response:
    return await _render(request, "error.html", exc.status_code, title="Refused", message=exc.detail)


# --- overview ---------------------------------------------------------------------------------


def _overview(console: Any) -> dict[str, Any]:
    cfg = console.config()
    hours = store.per_hour(console.reads)
    top = max([max(i, s) for _, i, s in hours] or [1])
    item_bars = views.bars([(h, i) for h, i, _ in hours], top=top)
    story_bars = views.bars([(h, s) for h, _, s in hours], top=top, offset=480 / len(hours) / 2 if hours else 0)
    feeds = store.feed_states(console.reads, [f.name for f in cfg.feeds])
    failing = [s.name for s in feeds if s.state == "failing" and s.since is None]
    since = store.failing_since(console.reads, failing)  # not yet unhealthy: the first error of the run
    for state in feeds:
        if state.name in since:
            state.since = since[state.name]
    return {"feeds": feeds,
            "outbox": store.outbox_summary(console.reads), "dead": store.deliveries(console.reads, state="dead", limit=10),
            "hours": hours, "item_bars": item_bars, "story_bars": story_bars,
            "items_24h": sum(i for _, i, _ in hours), "stories_24h": sum(s for _, _, s in hours)}


async def overview(request: Request) -> Response:
    """`/`: feeds by health (failing first), items and stories per hour, outbox depth, dead deliveries."""
    return await _render(request, "overview.html", **await _read(_overview, _console(request)))


# --- feeds ------------------------------------------------------------------------------------


def _feed(console: Any, name: str) -> dict[str, Any] | None:
    cfg = console.config()
    spec = next((f for f in cfg.feeds if f.name == name), None)
    row = store.feed_row(console.reads, name)
    if spec is None and row is None:
        return None
    state = next((s for s in store.feed_states(console.reads, [name]) if s.name == name), None)
    return {"name": name, "url": spec.url if spec else (row.url if row else ""), "configured": spec is not None,
            "state": state, "polls": store.recent_polls(console.reads, name),
            "items": store.recent_items(console.reads, feed=name, limit=30),
            "rules": store.learned_lines(console.reads, name), "can_pause": console.pause is not None}


async def feed(request: Request) -> Response:
    """`/feeds/NAME`: state and last error, recent polls, items, learned boilerplate (pin/disable), pause."""
    data = await _read(_feed, _console(request), request.path_params["name"])
    if data is None:
        raise HTTPException(404, f"no feed named {request.path_params['name']!r}")
    return await _render(request, "feed.html", **data)


async def feed_rule(request: Request) -> Response:
    """POST `/feeds/NAME/rules/ID`: set a learned line's state (pinned, disabled, learned)."""
    name, rule = request.path_params["name"], request.path_params["rule"]
    try:
        form = await _form(request)
        state = form.get("state", "")
        if state not in store.RULE_STATES:
            raise HTTPException(400, f"state must be one of {', '.join(store.RULE_STATES)}")
    except HTTPException as exc:
        return await _refused(request, exc)
    if not await _write(request, store.set_rule_state, _console(request).writes, name, rule, state):
        raise HTTPException(404, f"feed {name!r} has no learned line {rule}")
    return RedirectResponse(f"/feeds/{name}#rules", status_code=303)


async def feed_pause(request: Request) -> Response:
    """POST `/feeds/NAME/pause` with `action=pause|resume`."""
    name = request.path_params["name"]
    console = _console(request)
    try:
        form = await _form(request)
        if console.pause is None:
            raise HTTPException(403, "pausing feeds is not available in this version")
        if form.get("action") not in ("pause", "resume"):
            raise HTTPException(400, "action must be pause or resume")
    except HTTPException as exc:
        return await _refused(request, exc)
    if not await _write(request, console.pause, name, form["action"] == "pause"):
        raise HTTPException(404, f"no feed named {name!r}")
    return RedirectResponse(f"/feeds/{name}", status_code=303)


# --- items and stories ------------------------------------------------------------------------


async def items(request: Request) -> Response:
    """`/items`: stored items, newest first (`?feed=`, `?before=ID` pages on)."""
    feed = request.query_params.get("feed") or None
    rows = await _read(store.recent_items, _console(request).reads, feed, _int(request.query_params.get("before")))
    return await _render(request, "items.html", items=rows, feed=feed,
                         next_before=rows[-1]["id"] if len(rows) == 50 else None)


def _highlighted(view: store.StoryView) -> list[dict[str, Any]]:
    out = []
    for item in view.items:
        spans: dict[str, list[tuple[int, int]]] = {"title": [], "body": []}
        for match in item.matches:
            for m in match["mentions"]:
                spans.setdefault(str(m.get("field")), []).append((int(m.get("start", 0)), int(m.get("end", 0))))
        out.append({"item": item, "title": views.segments(item.title, spans["title"]),
                    "body": views.segments(item.text, spans["body"])})
    return out


async def story(request: Request) -> Response:
    """`/stories/ID`: items by language and outlet, why each joined, highlighted matches, alerts."""
    view = await _read(store.story_view, _console(request).reads, request.path_params["id"])
    if view is None:
        raise HTTPException(404, f"no story {request.path_params['id']}")
    return await _render(request, "story.html", story=view, copies=_highlighted(view))


# --- alerts and deliveries --------------------------------------------------------------------


async def alerts(request: Request) -> Response:
    """`/alerts`: deliveries with their alerts, filtered by watchlist, channel and state."""
    q = request.query_params
    picked = {k: q.get(k) or None for k in ("watchlist", "channel", "state")}
    reads = _console(request).reads
    rows = await _read(store.deliveries, reads, **picked)
    watchlists, channels = await _read(store.delivery_filters, reads)
    return await _render(request, "alerts.html", rows=rows, picked=picked, watchlists=watchlists, channels=channels,
                         states=("pending", "retrying", "delivered", "dead"))


async def delivery(request: Request) -> Response:
    """`/deliveries/ID`: one delivery's attempts, status and last error; retry when dead."""
    row = await _read(store.delivery, _console(request).reads, request.path_params["id"])
    if row is None:
        raise HTTPException(404, f"no delivery {request.path_params['id']}")
    return await _render(request, "delivery.html", d=row)


def _retry(console: Any, delivery_id: int) -> int:
    cfg = console.config()
    return Outbox(console.writes, console.worker, cfg.retry, lease_seconds=cfg.lease).retry(delivery_id)


async def delivery_retry(request: Request) -> Response:
    """POST `/deliveries/ID/retry`: requeue a dead (or retrying) delivery, as `wirewatch alerts retry ID`."""
    try:
        await _form(request)
    except HTTPException as exc:
        return await _refused(request, exc)
    delivery_id = request.path_params["id"]
    if not await _write(request, _retry, _console(request), delivery_id):
        return await _render(request, "error.html", 409, title="Not requeued",
                             message=f"delivery {delivery_id} is neither dead nor retrying")
    return RedirectResponse(f"/deliveries/{delivery_id}", status_code=303)


# --- search -----------------------------------------------------------------------------------


def _when(value: str | None, now: datetime) -> datetime | None:
    """`2026-12-01` (a UTC date) or a duration back from now (`1d`, `6h`); empty → None."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return now - timedelta(seconds=parse_duration(value))


async def search(request: Request) -> Response:
    """`/search?q=&feed=&entity=&since=&until=`: stored items containing the words, any script."""
    q = request.query_params
    text, feed, entity = q.get("q", ""), q.get("feed") or None, q.get("entity") or None
    reads = _console(request).reads
    error, rows = None, None
    try:
        since, until = _when(q.get("since"), utcnow()), _when(q.get("until"), utcnow())
    except ValueError as exc:
        error, since, until = f"since/until: {exc} (or a date like 2026-12-01)", None, None
    if error is None and (text.strip() or feed or entity):
        rows = await _read(searchstore.search_items, reads, text, feed, entity, since, until)
    cfg = _console(request).config()
    return await _render(request, "search.html", q=text, feed=feed, entity=entity, since=q.get("since", ""),
                         until=q.get("until", ""), rows=rows, error=error, feeds=[f.name for f in cfg.feeds],
                         entities=await _read(store.entities, reads))


# --- watchlist tester -------------------------------------------------------------------------


def _pasted_matcher(yaml_text: str) -> Matcher:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pasted-watchlist.yaml"
        # `$$` is a literal `$`: a pasted `${SMTP_PASSWORD}` stays that text, never the variable's value
        path.write_text(yaml_text.replace("$", "$$"), encoding="utf-8")
        return compile_watchlists([load_watchlist(path)])


def _test(console: Any, form: dict[str, str]) -> dict[str, Any]:
    title, text, pasted = form.get("title", ""), form.get("text", ""), form.get("watchlist", "")
    out: dict[str, Any] = {"title": title, "text": text, "watchlist": pasted, "since": form.get("since", "7d"),
                           "error": None, "candidates": None, "matches": None, "backtest": None}
    try:
        matcher = _pasted_matcher(pasted) if pasted.strip() else console.matcher()
    except ConfigError as exc:
        out["error"] = f"the pasted watchlist: {exc}"
        return out
    if form.get("action") == "backtest":
        try:
            since = utcnow() - timedelta(seconds=parse_duration(out["since"]))
        except ValueError as exc:
            out["error"] = f"since: {exc}"
            return out
        out["backtest"] = _backtest(matcher, store.history(console.reads, since, BACKTEST_MAX))
        return out
    candidates = matcher.mentions(title, text)
    kept = [c for c in candidates if c.verdict == "kept" and c.entity is not None]
    out["candidates"] = candidates
    out["matches"] = matcher.match(title, text)
    out["title_segments"] = views.segments(title, [(c.start, c.end) for c in kept if c.field == "title"])
    out["body_segments"] = views.segments(text, [(c.start, c.end) for c in kept if c.field == "body"])
    return out


def _backtest(matcher: Matcher, rows: list[dict[str, Any]]) -> dict[str, Any]:
    stories: dict[Any, dict[str, Any]] = {}
    for row in rows:
        for wm in matcher.match(row["title"], row["text"]):
            entry = stories.setdefault((row["story_id"], wm.watchlist), {
                "story": row["story_id"], "watchlist": wm.watchlist, "title": row["title"], "items": 0,
                "entities": set()})
            entry["items"] += 1
            entry["entities"] |= {e.id for e in wm.entities}
    return {"scanned": len(rows), "capped": len(rows) >= BACKTEST_MAX,
            "stories": sorted(stories.values(), key=lambda e: (e["watchlist"], -(e["story"] or 0)))}


async def tester(request: Request) -> Response:
    """`/tester`: paste text → highlighted mentions, verdicts, which watchlists alert; backtest over history."""
    console = _console(request)
    watchlists = console.matcher().watchlists
    if request.method == "GET":
        return await _render(request, "tester.html", result=None, watchlists=watchlists,
                             form={"title": "", "text": "", "watchlist": "", "since": "7d"})
    try:
        form = await _form(request, writes=False)
    except HTTPException as exc:
        return await _refused(request, exc)
    result = await _read(_test, console, form)
    return await _render(request, "tester.html", result=result, watchlists=watchlists, form=result)
