"""The layer rules of DEVELOPERS.md, read from the imports of every module (top-level and inside functions).

- `config` imports nothing of ours;
- `ingest` imports `config` and `ingest`;
- `alerts` imports `config`, `alerts` and `ingest.item` only;
- `wirewatch` (the composition root) imports everything.

Both spellings count: `ingest.x` today and `wirewatch.ingest.x` once the packages move under `wirewatch`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("config", "ingest", "alerts", "wirewatch")

ALLOWED: dict[str, tuple[str, ...]] = {
    "config": ("config",),
    "ingest": ("config", "ingest"),
    "alerts": ("config", "alerts", "ingest.item"),
}


def _canonical(name: str) -> str | None:
    """`wirewatch.ingest.x` → `ingest.x`; a module of ours keeps its name; a foreign one → None."""
    parts = name.split(".")
    if parts[0] == "wirewatch" and len(parts) > 1 and parts[1] in ALLOWED:
        parts = parts[1:]
    return ".".join(parts) if parts[0] in OURS else None


def _package_of(path: Path) -> tuple[str, list[str]]:
    """`ingest/fetch.py` → ("ingest", ["ingest"]): the top package and the package a relative import starts from."""
    parts = list(path.relative_to(ROOT).parts[:-1])
    return parts[0], parts


def _imports(source: str, package: list[str]) -> list[tuple[int, str]]:
    """Every module a file imports, with its line, at any depth: `import a.b`, `from a.b import c` (read as
    `a.b.c`, so `from ingest import item` counts as `ingest.item`), relative imports resolved against `package`."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _allowed(imported: str, allowed: tuple[str, ...]) -> bool:
    return any(imported == a or imported.startswith(a + ".") for a in allowed)


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def violations(package: str) -> list[str]:
    allowed = ALLOWED[package]
    out = []
    for path in _modules(package):
        for line, name in _imports(path.read_text(encoding="utf-8"), _package_of(path)[1]):
            ours = _canonical(name)
            if ours is None or _allowed(ours, allowed):
                continue
            out.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_rules_hold(package: str) -> None:
    assert violations(package) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ingest.item", "ingest.item"),
        ("wirewatch.ingest.item", "ingest.item"),
        ("wirewatch.app", "wirewatch.app"),
        ("wirewatch", "wirewatch"),
        ("httpx", None),
        ("configparser", None),
    ],
)
def test_both_spellings_are_ours(name: str, expected: str | None) -> None:
    assert _canonical(name) == expected


def test_the_checker_sees_function_level_and_relative_imports() -> None:
    source = "import httpx\n\ndef f():\n    from wirewatch import __version__\n    from .item import Item\n"
    assert _imports(source, ["ingest"]) == [(1, "httpx"), (4, "wirewatch.__version__"), (5, "ingest.item.Item")]
    assert _allowed("ingest.item.Item", ALLOWED["alerts"])
    assert not _allowed("ingest.itemx", ALLOWED["alerts"])
    assert not _allowed("ingest.store", ALLOWED["alerts"])
    assert _modules("config"), "the checker found no modules: wrong root?"


# --- one database gateway ---------------------------------------------------------------------------

THREADS_ALLOWED: dict[str, str] = {
    "wirewatch/gateway.py": "the database gateway's own threads (`Gateway.run`, `Gateway.read`)",
    "alerts/email.py": "SMTP sends: network I/O, kept off the database threads",
    "ingest/prepare.py": "the parse worker processes (pure CPU work, no database)",
    "ingest/lifetime.py": "the watch that ends the parse workers with the daemon",
    "wirewatch/metrics.py": "the metrics server, and the readiness probe on its own one-connection engine",
    "wirewatch/demo.py": "the demo's feed server",
    "wirewatch/web/pages.py": "the console's reads (an engine of their own, read-only) and rendering; its writes "
                              "go through the gateway",
}
"""Where a module may start threads or run work on an executor, and why; any other database work from async
code goes through `wirewatch.gateway.Gateway` (one writer thread on SQLite)."""

_THREADING = {"to_thread", "run_in_executor", "run_in_threadpool", "ThreadPoolExecutor", "ProcessPoolExecutor",
              "Thread"}


def thread_uses(source: str) -> list[tuple[int, str]]:
    """Every `asyncio.to_thread`, `run_in_executor`, executor or `Thread` named in a module, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in _THREADING:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in _THREADING:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom):
            found.extend((node.lineno, a.name) for a in node.names if a.name in _THREADING)
    return found


def _checked(allowed: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """Every source module of ours (relative path, path) but those `allowed` names; links to packages once."""
    for package in OURS:
        for path in _modules(package):
            rel = path.relative_to(ROOT).as_posix()
            if rel.split("/")[1:2] in (["config"], ["ingest"], ["alerts"]) or rel in allowed:
                continue  # `wirewatch/ingest` and the like are links to the packages, read as themselves
            yield rel, path


def test_database_work_from_async_code_goes_through_the_gateway() -> None:
    out = [f"{rel}:{line} uses {name}" for rel, path in _checked(THREADS_ALLOWED)
           for line, name in thread_uses(path.read_text(encoding="utf-8"))]
    assert out == []
    assert all((ROOT / rel).exists() for rel in THREADS_ALLOWED), "a module named in THREADS_ALLOWED is gone"


def test_the_thread_checker_sees_every_spelling() -> None:
    source = ("import asyncio\nfrom concurrent.futures import ThreadPoolExecutor\n\nasync def f(loop):\n"
              "    await asyncio.to_thread(g)\n    await loop.run_in_executor(None, g)\n")
    assert thread_uses(source) == [(2, "ThreadPoolExecutor"), (5, "to_thread"), (6, "run_in_executor")]


# --- SQL lives in `*store` modules ------------------------------------------------------------------

SQL_ALLOWED: dict[str, str] = {
    "alerts/tables.py": "the outbox's table definitions (column types, constraints)",
    "wirewatch/db.py": "the engine: SQLite pragmas, the schema version, migrations",
}
"""Modules besides `*store.py` that may build or run SQL, and why; the migrations are outside the rule."""

_SQL_NAMES_OK = {"Session", "Engine", "Connection", "SQLModel", "Field", "exc"}
_SQL_CALLS = {"exec", "execute", "scalar", "scalars", "exec_driver_sql"}


def sql_uses(source: str) -> list[tuple[int, str]]:
    """SQL constructs a module imports (anything of SQLAlchemy or SQLModel beyond sessions, engines, connections,
    table bases and errors) and the statements it runs (`.exec`, `.execute`, `.scalar(s)`), with their lines."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name.split(".")[0] in ("sqlalchemy", "sqlmodel") and a.name != "sqlalchemy.exc"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("sqlalchemy", "sqlmodel"):
            if node.module in ("sqlalchemy.exc", "sqlalchemy.engine"):
                continue
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if a.name not in _SQL_NAMES_OK]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SQL_CALLS:
            found.append((node.lineno, f".{node.func.attr}()"))
    return sorted(found)


def test_sql_lives_in_store_modules() -> None:
    out = [f"{rel}:{line} {name}" for rel, path in _checked(SQL_ALLOWED) if not path.stem.endswith("store")
           for line, name in sql_uses(path.read_text(encoding="utf-8"))]
    assert out == []
    assert all((ROOT / rel).exists() for rel in SQL_ALLOWED), "a module named in SQL_ALLOWED is gone"


def test_the_sql_checker_sees_imports_and_statements() -> None:
    source = ("import sqlalchemy as sa\nfrom sqlalchemy.engine import Engine\nfrom sqlmodel import Session, select\n"
              "from sqlalchemy.exc import OperationalError\nimport sqlalchemy.exc\n\ndef f(session):\n    return session.exec(q).all()\n")
    assert sql_uses(source) == [(1, "sqlalchemy"), (3, "sqlmodel.select"), (8, ".exec()")]
