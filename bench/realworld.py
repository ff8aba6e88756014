"""Score the shipped cleaning rules on the real-world items of `../shared/realworld`, each item alone.

    python bench/realworld.py [--realworld ../shared/realworld] [--out OUT.jsonl] [--show N] [--bars]

Every item of `items.jsonl` is cleaned by itself with all shipped packs (no feed history, nothing
learned), as `wirewatch clean --title T` would: a plain-text body is handed over as one `<p>` per line,
an HTML body as it is. The cleaned text and source go to a JSONL file that the set's own `score.py`
scores; its per-language figures (leak, retention, F1, source) are printed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wirewatch.config.packs import load_packs  # noqa: E402
from wirewatch.ingest.clean import clean_item, compile_ruleset  # noqa: E402

REALWORLD = ROOT.parent / "shared" / "realworld"
BARS = [f"{k}_{lang}={v}" for lang in ("zh", "ja", "en", "all")
        for k, v in (("leak", 0.05), ("retention", 0.98), ("f1", 0.98), ("source", 0.90))]
_TAG = re.compile(r"<(?:[A-Za-z][^\s/>]*|/[A-Za-z]|!--|!\[CDATA\[)")


def as_delivered(raw: str) -> str:
    """The body as a feed would carry it: HTML as is, plain text as one `<p>` per non-empty line."""
    if _TAG.search(raw):
        return raw
    return "".join(f"<p>{line}</p>" for line in raw.splitlines() if line.strip())


def clean_items(items: list[dict[str, object]]) -> list[dict[str, object]]:
    """One `{"id", "text", "source"}` row per item, each cleaned alone with every shipped pack."""
    rules = compile_ruleset(load_packs())
    rows = []
    for it in items:
        result = clean_item(str(it["title"]), "", as_delivered(str(it["raw"])), rules)
        rows.append({"id": it["id"], "text": result.text, "source": result.source, "title": result.title,
                     "teaser": result.teaser})
    return rows


def main() -> int:
    """Clean, score, print the figures; exit 1 with `--bars` when a bar of issue #21 is not met."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--realworld", type=Path, default=REALWORLD)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--bars", action="store_true")
    a = ap.parse_args()
    items = [json.loads(x) for x in (a.realworld / "items.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = clean_items(items)
    out = a.out or Path(tempfile.mkdtemp(prefix="realworld-")) / "clean.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cmd = [sys.executable, str(a.realworld / "score.py"), str(out), "--show", str(a.show)]
    if a.bars:
        cmd += [arg for bar in BARS for arg in ("--min", bar)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    figures = dict(line.split(None, 1) for line in done.stdout.splitlines()
                   if re.match(r"(leak|retention|f1|source)_", line))
    print("\n| figure | zh | ja | en | all |\n| --- | --- | --- | --- | --- |")
    for k in ("leak", "retention", "f1", "source"):
        print(f"| {k} | " + " | ".join(figures.get(f"{k}_{lang}", "-").strip() for lang in ("zh", "ja", "en", "all")) + " |")
    print(f"output: {out}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
