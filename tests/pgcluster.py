"""A private PostgreSQL cluster for one test, on its own port, that the test may stop and start.

Fault tests must not stop the shared server on 127.0.0.1:5432 (other tests use it). This runs
`initdb` and `pg_ctl` from /usr/lib/postgresql/*/bin into a temporary folder; as root the server runs
as the `postgres` user (initdb refuses root). `PrivateCluster.skip_reason()` says why it cannot run here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.helpers import free_port


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class PrivateCluster:
    """initdb + pg_ctl in a temp folder; `url` is a SQLAlchemy URL to its `wirewatch` database."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None, self.skip_reason()
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wirewatch-pg-"))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/wirewatch"

    @staticmethod
    def skip_reason() -> str | None:
        """Why a private cluster cannot be made here (None when it can)."""
        if _bin_dir() is None:
            return "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no `postgres` user to run the private cluster as"
            if shutil.which("runuser") is None:
                return "running as root and runuser(1) is missing"
        return None

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        assert done.returncode == 0, f"{' '.join(cmd)}: {done.stdout}\n{done.stderr}"

    def init(self) -> PrivateCluster:
        """Create the cluster, start it, and create the `wirewatch` database."""
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.start()
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE wirewatch")
        return self

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        """Fast shutdown: sessions are cut, as in a crash or a failover."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")
            except AssertionError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
