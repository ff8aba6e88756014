"""Nothing outlives a killed daemon: its parse worker, the forkserver and the resource tracker all exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import rss, wait_for, write_config

ITEMS = [{"title": f"Story {i}", "link": f"http://example.invalid/{i}", "guid": f"g{i}",
          "body": f"<p>Body number {i} with enough words to be a real paragraph about markets.</p>"}
         for i in range(3)]


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process in process group `pgid` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append((int(entry.name), cmdline.strip()))
    return found


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process groups from /proc (Linux)")
def test_sigkilled_daemon_leaves_no_helper_process_behind(tmp_path: Path, server: FeedServer) -> None:
    server.add("/f.xml", rss(ITEMS))
    config = write_config(tmp_path, {"f": server.url("/f.xml")}, extra="parse_workers: 1\n")
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wirewatch.cli", "--config", str(config), "run"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    try:
        assert wait_for(lambda: "poll f ok" in log.read_text()), log.read_text()
        helpers = [p for p in group_members(proc.pid) if p[0] != proc.pid]
        assert len(helpers) >= 2, helpers  # the parse worker and the forkserver (and the resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = group_members(proc.pid)
        assert left == [], f"still running 5 s after SIGKILL: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid, _ in group_members(proc.pid):
            os.kill(pid, signal.SIGKILL)
