"""`wirewatch demo`: the whole daemon on bundled sample feeds served on 127.0.0.1, SQLite in a temp folder."""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FEEDS = Path(__file__).resolve().parent / "demo_feeds"
DEMO_FEEDS = {
    "demo-finance-zh": "finance-zh.xml",
    "demo-portal-zh": "portal-zh.xml",
    "demo-markets-ja": "markets-ja.atom",
    "demo-wire-en": "wire-en.xml",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def serve_feeds(folder: Path = FEEDS) -> ThreadingHTTPServer:
    """Serve the sample feeds from `folder` on 127.0.0.1 (a free port) in a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="wirewatch-demo-feeds", daemon=True).start()
    return server


def write_demo_config(folder: Path, port: int) -> Path:
    """Write a config for the demo (console channel, demo watchlist) into `folder`; return its path."""
    shutil.copy(FEEDS / "watchlist.yaml", folder / "watchlist.yaml")
    feeds = "\n".join(
        f"  - {{name: {name}, url: 'http://127.0.0.1:{port}/{file}'}}" for name, file in DEMO_FEEDS.items()
    )
    path = folder / "wirewatch.yaml"
    path.write_text(
        "# written by `wirewatch demo`\n"
        "database: sqlite:///wirewatch.db\n"
        "defaults: {interval: 30s}\n"
        "fetch: {allow_private_networks: true}\n"
        f"feeds:\n{feeds}\n"
        "watchlists: [watchlist.yaml]\n"
        "channels:\n  console: {type: console}\n",
        encoding="utf-8",
    )
    return path


def run_demo(seconds: float | None = None, keep: bool = False) -> int:
    """Serve the sample feeds, run the daemon on them until Ctrl-C (or `seconds`), clean up."""
    from wirewatch.app import App
    from wirewatch.daemon import Daemon

    server = serve_feeds()
    folder = Path(tempfile.mkdtemp(prefix="wirewatch-demo-"))
    config_path = write_demo_config(folder, server.server_address[1])
    print(f"wirewatch demo: feeds on http://127.0.0.1:{server.server_address[1]}/, data in {folder}",
          file=sys.stderr)
    print("alerts print below; press Ctrl-C to stop", file=sys.stderr)
    app = App.open(config_path)
    try:
        daemon = Daemon(app, str(config_path))

        async def main() -> int:
            if seconds is not None:
                asyncio.get_running_loop().call_later(seconds, daemon.stopping.set)
            return await daemon.run()

        return asyncio.run(main())
    finally:
        app.close()
        server.shutdown()
        server.server_close()
        if keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
