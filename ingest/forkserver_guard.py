"""Imported only as a forkserver preload (`ingest.prepare.ParsePool`): the forkserver dies with the daemon.

The forkserver runs as `python -c 'from multiprocessing.forkserver import main; …'`; in that process
this import sets `PR_SET_PDEATHSIG`, so the kernel ends it when the daemon exits. Elsewhere it does nothing.
"""

from __future__ import annotations

import sys

from wirewatch.ingest.lifetime import die_with_parent

if sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules:
    die_with_parent()
