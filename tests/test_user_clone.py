"""A user's clone without ../shared: tests that need it skip with a reason, the rest run; only CI insists.

Also holds the shipped full example watchlist to what its comments say.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wirewatch.alerts.watchlist import compile_watchlists
from wirewatch.config.loader import load_config, load_watchlist

ROOT = Path(__file__).resolve().parent.parent
FULL_EXAMPLE = ROOT / "config" / "examples" / "watchlists" / "ev-batteries.yaml"

SAMPLE_TESTS = textwrap.dedent("""\
    from pathlib import Path

    import pytest


    @pytest.mark.corpus
    def test_marked() -> None:
        assert False, "a corpus test ran without the corpus"


    def test_uses_the_fixture(corpus_dir: Path) -> None:
        assert corpus_dir.is_dir(), "a test reading the corpus ran without it"


    def test_plain() -> None:
        assert 1 + 1 == 2
""")


def run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """Run pytest as a user (or CI) would, with our conftest and settings, and ../shared nowhere to be found."""
    (tmp_path / "test_sample.py").write_text(SAMPLE_TESTS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(WIREWATCH_CORPUS=str(tmp_path / "no-shared" / "corpus"),
               WIREWATCH_REALFEEDS=str(tmp_path / "no-shared" / "realfeeds"))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
                           str(tmp_path / "test_sample.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_without_shared_corpus_tests_skip_with_a_reason_and_the_rest_run(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, ci=None)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 2 skipped" in out.stdout
    assert f"shared corpus not found at {tmp_path / 'no-shared' / 'corpus'}" in out.stdout
    assert "set WIREWATCH_CORPUS" in out.stdout


def test_ci_insists_on_the_shared_corpus(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, ci="true")
    assert out.returncode != 0
    assert "CI must have the shared corpus" in out.stdout + out.stderr


@pytest.mark.parametrize(("title", "body", "expected"), [
    ("宁德时代发布新一代电池", "", ["CATL"]),                             # Chinese alias, a keyword in the title
    ("寧德時代の電池セル", "", ["CATL"]),                                  # Traditional folds to Simplified
    ("Tesla recall", "Tesla recalls cars over a door latch", []),       # no battery maker: any_of fails
    ("Tesla and Panasonic", "A new battery plant in Kansas", ["PANA", "TSLA"]),
    ("宁德时代电池降价", "本文为广告", []),                                 # an exclude keyword cancels it
    ("Panasonic results", "TV sales rose", []),                         # keywords: no battery word
    ("Nikola Tesla museum", "Panasonic battery exhibit", ["PANA"]),     # `exclude` phrase is not Tesla
    ("BYD battery output", "", ["BYD"]),
    ("byd battery output", "", []),                                     # case: sensitive
    ("Battery makers", "CATL (300750.SZ) and NIO Inc", ["CATL", "NIO"]),
])
def test_the_full_example_watchlist_does_what_its_comments_say(title: str, body: str, expected: list[str],
                                                               native: bool) -> None:
    matcher = compile_watchlists([load_watchlist(FULL_EXAMPLE)], native=native)
    found = sorted(e.id for m in matcher.match(title, body) for e in m.entities)
    assert found == expected


def test_the_full_example_is_named_by_the_shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_WEBHOOK_SECRET", "whsec_dGVzdA==")
    loaded = load_config(ROOT / "config" / "examples" / "wirewatch.yaml")
    assert FULL_EXAMPLE.resolve() in [p.resolve() for p, _ in loaded.watchlists]
