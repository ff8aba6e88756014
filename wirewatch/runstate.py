"""What a running daemon leaves for `wirewatch health`: the metrics address it serves, in a small state file.

`health` must work while the config on disk is broken (the daemon keeps running on the last good one),
so the daemon writes `{"pid", "metrics", "config"}` at start to
`$WIREWATCH_RUNTIME_DIR` (else `$XDG_RUNTIME_DIR/wirewatch`, else `<tmp>/wirewatch-<uid>`), one file
per config path, and removes it when it stops.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wirewatch.config.loader import default_config_path
from wirewatch.errors import AddressInUseError


@dataclass(frozen=True, slots=True)
class DaemonState:
    """One running daemon as its state file tells: process id, metrics address, config path."""

    pid: int
    metrics: str | None
    config: str

    def alive(self) -> bool:
        """Whether the process that wrote the file still runs."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def runtime_dir() -> Path:
    """Where state files go (see the module docstring)."""
    explicit = os.environ.get("WIREWATCH_RUNTIME_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "wirewatch"
    return Path(tempfile.gettempdir()) / f"wirewatch-{os.getuid()}"


def state_path(config_path: str | Path | None) -> Path:
    """The state file for the daemon run with this config (`--config`, `$WIREWATCH_CONFIG` or the default)."""
    resolved = default_config_path(str(config_path) if config_path is not None else None).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    return runtime_dir() / f"daemon-{digest}.json"


def write_state(config_path: str | Path | None, metrics: str | None) -> Path:
    """Record this process as the daemon of `config_path` (atomically); returns the file."""
    path = state_path(config_path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    resolved = default_config_path(str(config_path) if config_path is not None else None).resolve()
    data = {"pid": os.getpid(), "metrics": metrics, "config": str(resolved)}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_state(config_path: str | Path | None) -> DaemonState | None:
    """The state a daemon of `config_path` left, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(state_path(config_path).read_text(encoding="utf-8"))
        return DaemonState(int(data["pid"]), data.get("metrics"), str(data.get("config", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_state(config_path: str | Path | None) -> None:
    """Remove the state file if this process wrote it."""
    state = read_state(config_path)
    if state is not None and state.pid == os.getpid():
        state_path(config_path).unlink(missing_ok=True)


def daemon_line(config_path: str | Path | None) -> str:
    """One line for `status`: whether a daemon runs on this host with this config."""
    state = read_state(config_path)
    if state is None or not state.alive():
        return "daemon: none running on this host with this config (other hosts may poll a shared database)"
    return f"daemon: running (pid {state.pid}" + (f", metrics {state.metrics})" if state.metrics else ")")


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (or `[::1]:port`) into a host to bind and a port."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def ensure_free(listen: str) -> None:
    """Raise AddressInUseError naming `metrics.listen` when the address cannot be bound right now."""
    host, port = split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            why = "is already in use (is another wirewatch running on this host?)" \
                if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror or exc}"
            raise AddressInUseError(f"metrics.listen {listen} {why}; stop the other process or set "
                                    "another metrics.listen") from None
