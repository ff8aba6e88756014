"""`wirewatch health`: ask the running daemon's /healthz; needs only its metrics address.

The address comes from `--metrics`, else `$WIREWATCH_METRICS`, else the state file the running
daemon wrote (`wirewatch.runstate`: what it actually serves, even after a bad edit of the config),
else the config's `metrics.listen`.
"""

from __future__ import annotations

import os
import sys
import urllib.request

from wirewatch import runstate
from wirewatch.config.errors import ConfigError
from wirewatch.config.loader import load_config
from wirewatch.logs import redact


def metrics_address(explicit: str | None, config_path: str | None) -> tuple[str | None, str]:
    """The metrics address to ask and where it came from (None and the reason when there is none)."""
    if explicit:
        return explicit, "--metrics"
    env = os.environ.get("WIREWATCH_METRICS")
    if env:
        return env, "$WIREWATCH_METRICS"
    state = runstate.read_state(config_path)
    if state is not None and state.alive():
        if state.metrics:
            return state.metrics, f"the running daemon (pid {state.pid})"
        return None, f"the running daemon (pid {state.pid}) serves no metrics: metrics.listen is not set"
    try:
        listen = load_config(config_path).config.metrics.listen
    except ConfigError as exc:
        return None, f"no running daemon recorded its address, and the config does not load:\n{redact(str(exc))}"
    if not listen:
        return None, "metrics.listen is not set; nothing to ask"
    return listen, "metrics.listen"


def health(explicit: str | None, config_path: str | None) -> int:
    """Ask /healthz; print healthy or why not; 0 when healthy, 1 otherwise."""
    listen, source = metrics_address(explicit, config_path)
    if listen is None:
        print(f"unhealthy: {source}", file=sys.stderr)
        return 1
    try:
        host, port = runstate.split_listen(listen)
    except ValueError:
        print(f"unhealthy: {listen!r} (from {source}) is not HOST:PORT", file=sys.stderr)
        return 1
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    shown = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{shown}:{port}/healthz", timeout=5) as resp:
            ok = resp.status == 200
    except OSError as exc:
        print(f"unhealthy: {listen} (from {source}): {exc}", file=sys.stderr)
        return 1
    print("healthy" if ok else "unhealthy")
    return 0 if ok else 1
