"""The operator's web console: a Starlette app rendered server-side with Jinja2, served by uvicorn.

    build_app(console)   the ASGI app (pages in `pages.py`, guards in `security.py`)
    start(...)           serve it inside the daemon's event loop; returns a handle to stop it
    run_alone(...)       `wirewatch web`: serve it on its own, read-only, until SIGTERM/SIGINT

uvicorn runs as one more task on the daemon's asyncio loop (no thread, no second loop); database
work of a request runs in Starlette's thread pool, so a slow query never stalls polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wirewatch.alerts.match import Matcher
from wirewatch.config.models import Config
from wirewatch.gateway import Gateway
from wirewatch.web import pages
from wirewatch.web.security import Guard

log = logging.getLogger("wirewatch.web")
HERE = Path(__file__).resolve().parent


@dataclass
class Console:
    """What the pages read and write through: engines, the current config and matcher, hooks."""

    reads: Engine
    writes: Engine | None  # None: read-only (`wirewatch web` alone); forms that write are refused
    config: Callable[[], Config]
    matcher: Callable[[], Matcher]
    worker: str = "web"
    pause: Callable[[str, bool], bool] | None = None  # pause/resume a feed; None where not available
    db: Gateway | None = None
    """The daemon's database gateway: the forms' writes run on its writer thread (None: in the thread pool)."""


def build_app(console: Console) -> Guard:
    """The console's ASGI app, wrapped in the token check and security headers."""
    routes = [
        Route("/", pages.overview),
        Route("/feeds/{name}", pages.feed),
        Route("/feeds/{name}/rules/{rule:int}", pages.feed_rule, methods=["POST"]),
        Route("/feeds/{name}/pause", pages.feed_pause, methods=["POST"]),
        Route("/items", pages.items),
        Route("/stories/{id:int}", pages.story),
        Route("/alerts", pages.alerts),
        Route("/deliveries/{id:int}", pages.delivery),
        Route("/deliveries/{id:int}/retry", pages.delivery_retry, methods=["POST"]),
        Route("/search", pages.search),
        Route("/tester", pages.tester, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: pages.not_found, 405: pages.not_allowed})
    app.state.console = console
    return Guard(app, console.config().web.token)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the daemon owns SIGTERM/SIGINT/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class Running:
    """A console being served: stop() ends it."""

    server: _Server
    task: asyncio.Task[None]
    listen: str

    async def stop(self) -> None:
        """Stop accepting, finish open requests, close."""
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, timeout=5)


async def start(console: Console, listen: str) -> Running:
    """Serve the console on `listen` as a task of the running loop (an address in use raises OSError here)."""
    sock = _bind(listen)
    config = uvicorn.Config(build_app(console), lifespan="off", log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False)
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="wirewatch-web")
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    log.info("web console on http://%s/", listen)
    return Running(server, task, listen)


def run_alone(console: Console, listen: str) -> int:
    """`wirewatch web`: serve the console read-only until SIGTERM/SIGINT; returns the exit code."""

    async def main() -> int:
        running = await start(console, listen)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()
        return 0

    return asyncio.run(main())
