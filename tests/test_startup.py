"""Start-up: the daemon waits for a database that comes up after it (as in compose), then migrates and runs."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from tests.feedserver import FeedServer
from tests.helpers import free_port, rss, wait_for, write_config
from tests.test_daemon import start, stop

ITEMS = [{"title": "t", "link": "http://example.invalid/1", "guid": "1", "body": "<p>Markets rose today.</p>"}]


class LateForwarder:
    """Listens on `port` only after `delay` seconds, then forwards each connection to PostgreSQL."""

    def __init__(self, port: int, delay: float, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.port, self.delay, self.target = port, delay, target
        self.stopped = threading.Event()
        self.sock: socket.socket | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        if self.stopped.wait(self.delay):
            return
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(0.5)
        while not self.stopped.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped.set()
        if self.sock is not None:
            self.sock.close()


def test_daemon_waits_for_a_late_database_then_migrates_and_polls(tmp_path: Path, pg_url: str) -> None:
    port = free_port()
    late_url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    forwarder = LateForwarder(port, delay=4.0)
    try:
        with FeedServer() as server:
            server.add("/f.xml", rss(ITEMS))
            proc = start(write_config(tmp_path, {"f": server.url("/f.xml")}, database=late_url))
            try:
                assert wait_for(lambda: server.hits("/f.xml") > 0, 40), (tmp_path / "daemon.log").read_text()
                assert stop(proc) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
    finally:
        forwarder.close()
    log = (tmp_path / "daemon.log").read_text()
    assert "database not reachable (attempt 1/30)" in log and "starting" in log
