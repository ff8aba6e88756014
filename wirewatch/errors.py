"""Exceptions of the composition root (the CLI turns each into a message and an exit code).

    WirewatchError          base of the tree
    ├── UsageError          the command line names something that does not exist (exit 2)
    ├── SchemaError         the database is missing, or not at this version's schema (exit 2)
    └── AddressInUseError   `metrics.listen` is taken, e.g. by a second daemon on the host (exit 2)
"""

from __future__ import annotations


class WirewatchError(Exception):
    """Base of wirewatch's own errors."""


class UsageError(WirewatchError):
    """A name on the command line (feed, channel, delivery, item) is unknown; the message lists what exists."""


class SchemaError(WirewatchError):
    """The database is missing or behind (or ahead of) this version; a read-only command will not migrate it."""


class AddressInUseError(WirewatchError):
    """The metrics address cannot be bound."""
