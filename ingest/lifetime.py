"""Helper processes never outlive the daemon, even a SIGKILLed one.

The parse pool runs on multiprocessing's forkserver, which brings three helpers: the forkserver,
the resource tracker and the workers. A worker's parent is the forkserver, not the daemon, and each
worker holds the forkserver's "alive" pipe and the resource tracker's pipe, so those two helpers
live exactly as long as the workers do. Two guards end them all when the daemon dies:

- `die_with_parent` (Linux `PR_SET_PDEATHSIG`): the kernel kills the forkserver when the daemon
  exits, and a worker when the forkserver exits, even in the middle of a long C call;
- `watch_owner`: a worker thread that waits on the daemon's pidfd (or checks its pid) and exits,
  for kernels or platforms without the first.

With the workers gone, the resource tracker reads end-of-file and exits too.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent exits; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def watch_owner(pid: int, every: float = 0.5) -> None:
    """Exit this process (at once, no clean-up) when process `pid` ends; watched from a daemon thread."""
    try:
        fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is None and not _alive(pid):
        os._exit(0)

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])  # a pidfd becomes readable when its process exits
        else:
            while _alive(pid):
                time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="wirewatch-owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
