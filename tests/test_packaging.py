"""The distribution: one top-level package, no setuptools warnings, every extra the example config needs in the image."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
OURS = ("config", "ingest", "alerts")


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the wheel the way a user's pip does; return it and what the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    wheels = list(out.glob("wirewatch-*.whl"))
    assert len(wheels) == 1
    return wheels[0], proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_package_with_its_data(built_wheel: tuple[Path, str]) -> None:
    wheel, _ = built_wheel
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"wirewatch"}, f"top-level names other distributions could collide with: {top - {'wirewatch'}}"
    for needed in ("wirewatch/config/boilerplate/sina.yaml", "wirewatch/config/examples/wirewatch.yaml",
                   "wirewatch/ingest/pipeline.py", "wirewatch/alerts/_scan.pyi", "wirewatch/config/wirewatch.service",
                   "wirewatch/migrations/versions/0001_initial.py", "wirewatch/demo_feeds/",
                   "wirewatch/web/templates/", "wirewatch/web/static/"):
        assert any(n.startswith(needed) for n in names), f"{needed} missing from the wheel"


@pytest.mark.slow
def test_building_prints_no_setuptools_warning(built_wheel: tuple[Path, str]) -> None:
    _, log = built_wheel
    warnings = [line for line in log.splitlines()
                if re.search(r"(Deprecation|BuildBackend|_)Warning|would be ignored", line)]
    assert warnings == []


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_no_code_imports_our_folders_by_their_bare_top_level_names() -> None:
    """From the source tree `import ingest` would also work, and load a second copy of every module."""
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    bad = [f"{name}:{line}: {module}" for name in tracked.stdout.split()
           if (ROOT / name).is_file() and not (ROOT / name).is_symlink()
           for line, module in _imports(ROOT / name) if module.split(".")[0] in OURS]
    assert bad == []


def test_the_namespace_links_point_at_the_folders() -> None:
    for name in OURS:
        link = ROOT / "wirewatch" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve()


def test_the_image_installs_every_extra_the_example_config_needs() -> None:
    config = yaml.safe_load((ROOT / "config" / "examples" / "wirewatch.yaml").read_text())
    needed = set()
    if "postgresql" in config["database"]:
        needed.add("postgres")
    if any(feed.get("full_text") for feed in config["feeds"]):
        needed.add("fulltext")
    dockerfile = (ROOT / "Dockerfile").read_text()
    installed = re.search(r"'wirewatch\[([a-z,]+)\]'", dockerfile)
    assert installed, "the Dockerfile installs no extras"
    assert needed <= set(installed.group(1).split(","))
