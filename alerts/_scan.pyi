"""Types of the native matcher module built from alerts/_scan.c (optional: import it inside try/except)."""

TABLE: int  # code points covered by the fold and class tables (0x30000)

class Folder:
    """The per-code-point fold table and edge classes."""

    def __init__(self, fold: bytes, classes: bytes) -> None: ...
    def fold(self, text: str, /) -> str:
        """The folded text, one code point for one."""

class Scanner:
    """An Aho–Corasick automaton over folded code points, with edge checks."""

    def __init__(self, folder: Folder, patterns: list[str], edges: bytes) -> None: ...
    def scan(self, text: str, seam: int, keep_all: bool, /) -> list[tuple[int, int, int, bool]]:
        """Every pattern occurrence in the folded text: (pattern, start, end, edges_ok)."""
    def nodes(self) -> int:
        """The number of automaton states."""
