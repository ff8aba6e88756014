"""Exceptions raised while loading configuration.

    ConfigError            (also a ValueError) one or more problems, each naming file, line and field
    OpmlError              (also a ValueError) an OPML file to import is malformed or refused as hostile
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a configuration file: where it is and what was expected."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ConfigError(ValueError):
    """Configuration is invalid; `problems` lists each one with file, line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class OpmlError(ValueError):
    """An OPML file cannot be imported: not OPML, malformed, too large, or refused as hostile (a DTD)."""
