"""wirewatch: the composition root (CLI, daemon, database, metrics) over `ingest` and `alerts`."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wirewatch")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

PROJECT_URL = "https://github.com/wirewatch/wirewatch"  # placeholder until the project has a home
USER_AGENT = f"wirewatch/{__version__} (+{PROJECT_URL})"
"""What the daemon's fetcher sends unless `fetch.user_agent` says otherwise."""
