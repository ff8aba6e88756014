"""The shipped boilerplate rule packs: `config/boilerplate/<pack>.yaml`, one file per site or language.

A pack file is a mapping with an optional `description` and a list of `rules`, each a
`CleanRuleConfig` (`id`, `pattern`, `regex`, `where`, `feeds`, `hosts`). The pack's name is the file
stem. Loading checks every rule (unknown keys, a regex that does not compile once its full-width
characters are read as half-width, a pattern that matches empty text, an id used twice) and reports
every problem with its file, line and rule id.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from wirewatch.config.errors import ConfigError, Problem
from wirewatch.config.models import CleanRuleConfig
from wirewatch.config.patterns import literal_regex, regex_source
from wirewatch.config.yamlio import read_document

__all__ = ["PACKS_DIR", "load_packs"]

PACKS_DIR = Path(__file__).resolve().parent / "boilerplate"


def load_packs(folder: Path | None = None) -> dict[str, list[CleanRuleConfig]]:
    """Read every `*.yaml` pack in `folder` (default: the shipped packs), keyed by file stem."""
    folder = PACKS_DIR if folder is None else folder
    if not folder.is_dir():
        raise ConfigError([Problem(str(folder), None, "", "boilerplate pack folder not found")])
    packs: dict[str, list[CleanRuleConfig]] = {}
    problems: list[Problem] = []
    owners: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        rules, found = _load_pack(path)
        problems += found
        for line, rule in rules:
            if rule.id in owners:
                problems.append(Problem(str(path), line, f"rule {rule.id}",
                                        f"rule id is already used in {owners[rule.id]}; ids must be unique"))
            owners[rule.id] = str(path)
        packs[path.stem] = [rule for _, rule in rules]
    if problems:
        raise ConfigError(problems)
    return packs


def _load_pack(path: Path) -> tuple[list[tuple[int | None, CleanRuleConfig]], list[Problem]]:
    name = str(path)
    try:
        node, data = read_document(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(name, None, "", f"cannot read the file: {exc}")]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        return [], [Problem(name, line, "", f"YAML syntax error: {exc.problem}")]
    if node is None:
        return [], [Problem(name, None, "", "empty pack; expected a mapping with a `rules` list")]
    if not isinstance(data, dict) or set(data) - {"description", "rules"} or not isinstance(data.get("rules"), list):
        return [], [Problem(name, node.start_mark.line + 1, "",
                            "expected a mapping with `rules:` (a list of rules) and an optional `description:`")]
    lines = _rule_lines(node)
    rules: list[tuple[int | None, CleanRuleConfig]] = []
    problems: list[Problem] = []
    for i, raw in enumerate(data["rules"]):
        line = lines[i] if i < len(lines) else None
        label = f"rules[{i}]" + (f" ({raw['id']})" if isinstance(raw, dict) and raw.get("id") else "")
        rule, problem = _rule(raw, label)
        if problem is not None:
            problems.append(Problem(name, line, label, problem))
        elif rule is not None:
            rules.append((line, rule))
    return rules, problems


def _rule_lines(node: yaml.Node) -> list[int]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "rules" and isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def _rule(raw: Any, label: str) -> tuple[CleanRuleConfig | None, str | None]:
    if not isinstance(raw, dict):
        return None, "expected a mapping with id, pattern and where"
    try:
        rule = CleanRuleConfig.model_validate(raw)
    except ValidationError as exc:
        return None, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}" for e in exc.errors())
    source = regex_source(rule.pattern) if rule.regex else literal_regex(rule.pattern)
    try:
        compiled = re.compile(source)
    except re.error as exc:
        return None, f"pattern does not compile once full-width characters are read as half-width: {exc}"
    if compiled.fullmatch("") is not None:
        return None, "pattern matches empty text; it must match at least one character"
    return rule, None
