"""Score wirewatch end to end on the shared corpus: serve round 1 then round 2 on 127.0.0.1, poll, export, score.

    python bench/corpus.py [--corpus ../shared/corpus] [--rounds round1 round2] [--alerts]

Prints `score.py`'s figures. With `--alerts`, a local webhook receiver records every alert
and `score.py --alerts` checks that each story with entities was alerted exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.feedserver import FeedServer  # noqa: E402 - after the path is set
from tests.receivers import Receiver  # noqa: E402

CONTENT_TYPES = {".xml": "application/rss+xml", ".atom": "application/atom+xml", ".rdf": "application/rdf+xml",
                 ".json": "application/feed+json"}
WEBHOOK_SECRET = "whsec_d2lyZXdhdGNoLWNvcnB1cy1zZWNyZXQ="


def serve_round(server: FeedServer, folder: Path) -> None:
    """Serve the feed files of one round folder at `/<file name>`; a file the round lacks is a 404."""
    server.routes.clear()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            server.add(f"/{path.name}", path.read_bytes(),
                       content_type=CONTENT_TYPES.get(path.suffix, "application/xml"))


def feed_names(corpus: Path, rounds: list[str]) -> dict[str, str]:
    """Feed name → file name, over all rounds."""
    names: dict[str, str] = {}
    for rnd in rounds:
        for path in sorted((corpus / "built" / rnd).iterdir()):
            names[path.stem] = path.name
    return names


@contextmanager
def corpus_run(corpus: Path, work: Path, rounds: list[str], alerts: bool, database: str | None = None,
               channel: str = "webhook") -> Iterator[tuple[Path, list[dict[str, object]]]]:
    """Poll every round in turn into a fresh database; yield (export file, received alerts).

    `channel` is how alerts reach the local receiver: a signed `webhook`, or `apprise` (`json://`).
    """
    from wirewatch.app import App
    from wirewatch.daemon import poll_once
    from wirewatch.reports import export_lines

    server = FeedServer().start()
    receiver = Receiver().start() if alerts else None
    try:
        names = feed_names(corpus, rounds)
        feeds = "\n".join(f"  - {{name: {n}, url: '{server.url('/' + f)}'}}" for n, f in names.items())
        (work / "watchlists").mkdir(exist_ok=True)
        (work / "watchlists" / "entities.yaml").write_text(
            (corpus / "entities.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        if receiver is None:
            channels = "channels:\n  corpus-webhook: {type: console}\n"
        elif channel == "apprise":
            target = receiver.url.replace("http://", "json://")
            channels = f"channels:\n  corpus-webhook: {{type: apprise, urls: ['{target}']}}\n"
        else:
            channels = (f"channels:\n  corpus-webhook: {{type: webhook, url: '{receiver.url}', "
                        f"secret: '{WEBHOOK_SECRET}'}}\n")
        db = database or f"sqlite:///{work / 'wirewatch.db'}"
        config = work / "wirewatch.yaml"
        config.write_text(f"database: '{db}'\nfetch: {{allow_private_networks: true}}\nfeeds:\n{feeds}\n"
                          f"watchlists: [watchlists/*.yaml]\n{channels}", encoding="utf-8")
        app = App.open(config)
        try:
            for rnd in rounds:
                serve_round(server, corpus / "built" / rnd)
                asyncio.run(poll_once(app))
            export = work / "export.jsonl"
            with export.open("w", encoding="utf-8") as out:
                for line in export_lines(app.engine):
                    out.write(line + "\n")
        finally:
            app.close()
        received = [{"headers": {k.lower(): v for k, v in r["headers"].items()}, "body": r["body"]}
                    for r in receiver.delivered()] if receiver else []
        yield export, received
    finally:
        server.stop()
        if receiver:
            receiver.close()


def score(corpus: Path, export: Path, alerts: Path | None = None) -> dict[str, object]:
    """Run the corpus's own score.py and return its figures."""
    cmd = [sys.executable, str(corpus / "score.py"), "--gold", str(corpus / "built" / "gold.jsonl"),
           "--export", str(export), "--json"]
    if alerts is not None:
        cmd += ["--alerts", str(alerts)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out)
    return result


def missing_by_event(corpus: Path, received: list[dict[str, object]]) -> int:
    """Events (`xstory`: every language) with entities that got no alert at all.

    score.py's `alert_missing` counts per same-language `story`; a translation that joins the
    story of its original is alerted once for both (issue #20), which that figure counts as missing.
    """
    gold = [json.loads(line) for line in (corpus / "built" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    def key(url: str) -> str:  # as score.py matches: scheme, host (lower case) and path
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, "", ""))

    by_link = {key(g["link"]): g for g in gold}
    alerted = set()
    for alert in received:
        body = json.loads(str(alert["body"]))
        found = by_link.get(key(str(body.get("item", {}).get("url", ""))))
        if found is not None:
            alerted.add(found["xstory"])
    return len({g["xstory"] for g in gold if g["entities"]} - alerted)


def main() -> int:
    """Run the corpus through wirewatch and print the scores."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--rounds", nargs="+", default=["round1", "round2"])
    ap.add_argument("--alerts", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with corpus_run(args.corpus, work, args.rounds, args.alerts) as (export, received):
            alerts_path = None
            if args.alerts:
                alerts_path = work / "alerts.jsonl"
                alerts_path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in received),
                                       encoding="utf-8")
            result = score(args.corpus, export, alerts_path)
            if args.alerts:
                result["alert_missing_event"] = missing_by_event(args.corpus, received)
    for key, value in result.items():
        print(f"{key:16} {value:.3f}" if isinstance(value, float) else f"{key:16} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
