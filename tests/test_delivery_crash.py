"""The daemon killed with SIGKILL while a delivery hangs: after a restart every alert arrives, repeats keep their id."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.feedserver import FeedServer
from tests.helpers import rss, wait_for, write_config
from tests.test_daemon import start, stop

SECRET = "whsec_Y3Jhc2gtdGVzdC1zZWNyZXQ="
ITEMS = [
    {"title": "Alpha Corp agrees to buy a chip designer", "link": "http://example.invalid/1", "guid": "1",
     "body": "<p>Alpha Corp agreed to buy a chip designer for $4 billion in cash, its largest deal so far.</p>"},
    {"title": "Alpha Corp names a new finance chief", "link": "http://example.invalid/2", "guid": "2",
     "body": "<p>Alpha Corp appointed a former bank executive as chief financial officer from January.</p>"},
]


class HangingReceiver:
    """Records every request; while `hang` is set, requests are left without an answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.answered: list[dict[str, str]] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                record = {"id": self.headers["webhook-id"], "body": body,
                          "headers": {k.lower(): v for k, v in self.headers.items()}}
                outer.requests.append(record)  # type: ignore[arg-type]
                if outer.hang.is_set():
                    outer.release.wait(60)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.answered.append(record)  # type: ignore[arg-type]

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[HangingReceiver]:
    r = HangingReceiver()
    yield r
    r.close()


def test_sigkill_while_a_delivery_hangs_then_restart_delivers_everything_once(
        tmp_path: Path, receiver: HangingReceiver) -> None:
    (tmp_path / "w.yaml").write_text("watchlist: w\nchannels: [hook]\nentities:\n"
                                     "  - {id: ALPHA, name: Alpha, aliases: [Alpha Corp]}\n", encoding="utf-8")
    receiver.hang.set()
    with FeedServer() as server:
        server.add("/f.xml", rss(ITEMS))
        config = write_config(tmp_path, {"f": server.url("/f.xml")}, watchlists=["w.yaml"],
                              channels={"hook": {"type": "webhook", "url": receiver.url, "secret": SECRET,
                                                 "timeout": "60s"}},
                              extra="lease: 3s\n")
        first = start(config)
        try:
            assert wait_for(lambda: len(receiver.requests) >= 2), (tmp_path / "daemon.log").read_text()
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        hung_ids = {r["id"] for r in receiver.requests}
        receiver.hang.clear()
        second = start(config)
        try:
            assert wait_for(lambda: {r["id"] for r in receiver.answered} >= hung_ids, 30), \
                (tmp_path / "daemon.log").read_text()
            assert stop(second) == 0
        finally:
            if second.poll() is None:
                second.kill()
    answered = receiver.answered
    alerts = {json.loads(r["body"])["id"] for r in receiver.requests}
    assert len(alerts) == 2  # two stories, two alerts
    assert {json.loads(r["body"])["id"] for r in answered} == alerts  # every alert arrived
    by_alert: dict[str, set[str]] = {}
    for r in receiver.requests:
        by_alert.setdefault(json.loads(r["body"])["id"], set()).add(r["id"])
    assert all(len(ids) == 1 for ids in by_alert.values())  # a repeat carries the same webhook-id
    verifier = Webhook(SECRET)
    for r in answered:
        verifier.verify(r["body"], r["headers"])
