"""Load YAML into validated config models, with `${ENV}` secrets and errors that name file, line and field."""

from __future__ import annotations

import difflib
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from wirewatch.config.checks import config_problems, watchlist_problems
from wirewatch.config.errors import ConfigError, Problem
from wirewatch.config.models import Config, FeedsFile
from wirewatch.config.watchlist import WatchlistConfig
from wirewatch.config.yamlio import read_document

_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DEFAULT_PATH = "wirewatch.yaml"
DATABASE_ENV = "WIREWATCH_DATABASE"
"""Where the database is when the config has no `database:` key (else `sqlite:///wirewatch.db` beside the config)."""
M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FeedOrigin:
    """Where a feed from a `feeds_files:` file was written: the file, its line map, its index there."""

    path: Path
    lines: dict[Loc, int]
    index: int


@dataclass(slots=True)
class Loaded:
    """A validated main config with its file, folder and the watchlists it names."""

    config: Config
    path: Path
    watchlists: list[tuple[Path, WatchlistConfig]] = field(default_factory=list)
    lines: dict[Loc, int] = field(default_factory=dict)
    """Line of each key of the main config, so checks made after loading can still name the line."""
    file: str = ""
    """The config file as the user named it (errors show this)."""
    own_feeds: int = 0
    """How many of `config.feeds` the main file lists; the rest come from `feeds_files:`, in `feed_origins`."""
    feed_origins: list[FeedOrigin] = field(default_factory=list)
    feeds_paths: list[Path] = field(default_factory=list)
    """The `feeds_files:` files that were read, in order, empty ones included."""

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at `loc` (a path of keys and indexes) of the config, with the file and line it is on.

        A feed included from a `feeds_files:` file is reported in that file, at its own index.
        """
        if len(loc) >= 2 and loc[0] == "feeds" and isinstance(loc[1], int) and loc[1] >= self.own_feeds:
            origin = self.feed_origins[loc[1] - self.own_feeds]
            local = ("feeds", origin.index, *loc[2:])
            return Problem(str(origin.path), _line_for(local, origin.lines)[0], _dotted(local), message)
        return Problem(self.file or str(self.path), _line_for(loc, self.lines)[0], _dotted(loc), message)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config resolve against."""
        return self.path.parent


def default_config_path(explicit: str | None = None) -> Path:
    """The config path: `--config`, else `$WIREWATCH_CONFIG`, else `./wirewatch.yaml`."""
    return Path(explicit or os.environ.get("WIREWATCH_CONFIG") or DEFAULT_PATH)


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, int], list[Problem]]:
    """Parse a YAML file into data plus a map from field path to line number."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(name, None, "", f"cannot read the file: {exc}")]) from None
    try:
        node, data = read_document(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([Problem(name, line, "", f"YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, None, "", f"YAML error: {exc}")]) from None
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _index(node, (), lines, problems, name)
    data, env_problems = _substitute(data, (), lines, name)
    return data, lines, problems + env_problems


def _index(node: yaml.Node, path: Loc, lines: dict[Loc, int], problems: list[Problem], name: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(name, key_node.start_mark.line + 1, _dotted(path + (key,)), "key appears twice")
                )
            seen.add(key)
            _index(value_node, path + (key,), lines, problems, name)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _index(child, path + (i,), lines, problems, name)


def _substitute(data: Any, path: Loc, lines: dict[Loc, int], name: str) -> tuple[Any, list[Problem]]:
    """Replace `${VAR}` and `${VAR:-default}` in every string; `$$` is a literal `$`."""
    problems: list[Problem] = []
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            out[key], sub = _substitute(value, path + (str(key),), lines, name)
            problems += sub
        return out, problems
    if isinstance(data, list):
        items = []
        for i, value in enumerate(data):
            new, sub = _substitute(value, path + (i,), lines, name)
            items.append(new)
            problems += sub
        return items, problems
    if isinstance(data, str) and "$" in data:

        def replace(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            var, default = m.group(1), m.group(2)
            value = os.environ.get(var)
            if value is None or (value == "" and default is not None):
                if default is None:
                    problems.append(
                        Problem(name, lines.get(path), _dotted(path),
                                f"environment variable {var} is not set (write ${{{var}:-default}} for a default)")
                    )
                    return ""
                return default
            return value

        return _ENV.sub(replace, data), problems
    return data, problems


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(loc: Loc, lines: dict[Loc, int]) -> tuple[int | None, Loc]:
    """Best line for a pydantic error location, skipping union tags that are not in the YAML."""
    path: Loc = ()
    line = lines.get(())
    for part in loc:
        candidate = path + (part,)
        if candidate in lines:
            path = candidate
            line = lines[candidate]
    return line, path


def _validate(model: type[M], data: Any, lines: dict[Loc, int], name: str) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(name, lines.get(()), "", "expected a mapping of keys at the top level")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line, path = _line_for(loc, lines)
            message = _message(model, err, loc)
            field = path if err["type"] != "missing" else path + loc[-1:]  # union tags are not keys of the YAML
            problems.append(Problem(name, line, _dotted(field), message))
        raise ConfigError(problems) from None


def _message(model: type[BaseModel], err: Any, loc: Loc) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = ""
        if allowed:
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(sorted(allowed))}"
        return f"unknown key {loc[-1]!r}{hint}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Keys of the model found at `loc`, for did-you-mean hints (best effort)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in _keys(current):
            # a dict key (channel name) or a union tag: look for a model under the tag
            current = _union_member(current, str(part))
            continue
        current = _model_of(fields[_field_name(current, str(part))].annotation)
    return _keys(current) if current is not None and hasattr(current, "model_fields") else []


def _keys(model: Any) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_name(model: Any, key: str) -> str:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return str(name)
    return key


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None


def _union_member(current: Any, tag: str) -> Any:
    from wirewatch.config import models

    for cls in (models.WebhookChannel, models.EmailChannel, models.AppriseChannel, models.ConsoleChannel):
        if tag in getattr(cls.model_fields["type"].annotation, "__args__", ()):
            return cls
    return current


def problem_in(path: Path, loc: Loc, message: str) -> Problem:
    """A problem at `loc` of a YAML file found after loading it (the file is read again for its lines)."""
    try:
        lines = _read_yaml(path)[1]
    except ConfigError:
        lines = {}
    return Problem(str(path), _line_for(loc, lines)[0] if loc else None, _dotted(loc), message)


def _load_file(model: type[M], path: Path) -> tuple[M, dict[Loc, int]]:
    """Read and validate one YAML file as `model`, with its line map; reading and field problems raise together."""
    data, lines, problems = _read_yaml(path)
    try:
        loaded = _validate(model, data, lines, str(path))
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return loaded, lines


def load_watchlist(path: Path, channels: set[str] | None = None) -> WatchlistConfig:
    """Load and validate one watchlist file; `channels` (if given) are the names it may route to."""
    watchlist, lines = _load_file(WatchlistConfig, path)
    checks = [Problem(str(path), _line_for(loc, lines)[0], _dotted(loc), msg)
              for loc, msg in watchlist_problems(watchlist, channels)]
    if checks:
        raise ConfigError(checks)
    return watchlist


def resolve_watchlist_paths(patterns: list[str], base: Path, name: str, lines: dict[Loc, int]) -> list[Path]:
    """Expand the `watchlists:` globs relative to the config folder; a plain path must exist."""
    return resolve_paths(patterns, base, name, lines, "watchlists", "watchlist file")


def resolve_paths(patterns: list[str], base: Path, name: str, lines: dict[Loc, int], key: str,
                  what: str) -> list[Path]:
    """Expand the globs of list `key` relative to the config folder; a glob must match, a plain path exist."""
    paths: list[Path] = []
    problems: list[Problem] = []
    for i, pattern in enumerate(patterns):
        full = pattern if os.path.isabs(pattern) else str(base / pattern)
        if glob.has_magic(full):
            found = [Path(p) for p in sorted(glob.glob(full)) if os.path.isfile(p)]
            if not found:
                problems.append(Problem(name, lines.get((key, i)), f"{key}[{i}]",
                                        f"{pattern!r} matches no file (looked for {full})"))
            paths += found
        elif os.path.exists(full):
            paths.append(Path(full))
        else:
            problems.append(Problem(name, lines.get((key, i)), f"{key}[{i}]", f"no such {what}: {full}"))
    if problems:
        raise ConfigError(problems)
    return paths


def resolve_database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path absolute against the config folder; other URLs pass through."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url


def load_feeds_file(path: Path) -> FeedsFile:
    """Load and validate one `feeds_files:` file on its own (as `wirewatch feeds import` merges into it)."""
    return _load_file(FeedsFile, path)[0]


def _include_feeds(config: Config, paths: list[Path]) -> list[FeedOrigin]:
    """Append the feeds of every `feeds_files:` file to `config.feeds`; where each included feed came from."""
    origins: list[FeedOrigin] = []
    problems: list[Problem] = []
    for path in paths:
        data, file_lines, read_problems = _read_yaml(path)
        try:
            feeds_file = _validate(FeedsFile, data, file_lines, str(path))
        except ConfigError as exc:
            problems += read_problems + exc.problems
            continue
        problems += read_problems
        for j, feed in enumerate(feeds_file.feeds):
            config.feeds.append(feed)
            origins.append(FeedOrigin(path, file_lines, j))
    if problems:
        raise ConfigError(problems)
    return origins


def load_config(path: Path | str | None = None) -> Loaded:
    """Load the main config, the feeds files and every watchlist it names; raise ConfigError listing all problems."""
    cfg_path = default_config_path(str(path) if path is not None else None)
    name = str(cfg_path)
    data, lines, problems = _read_yaml(cfg_path)
    if isinstance(data, dict) and "database" not in data and os.environ.get(DATABASE_ENV):
        data["database"] = os.environ[DATABASE_ENV]  # the default, as the systemd unit and containers set it
    try:
        config = _validate(Config, data, lines, name)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    base = cfg_path.resolve().parent
    own_feeds = len(config.feeds)
    feeds_paths = resolve_paths(config.feeds_files, base, name, lines, "feeds_files", "feeds file")
    origins = _include_feeds(config, feeds_paths)
    loaded = Loaded(config=config, path=cfg_path.resolve(), lines=lines, file=name, own_feeds=own_feeds,
                    feed_origins=origins, feeds_paths=feeds_paths)
    checks = [loaded.problem(loc, msg) for loc, msg in config_problems(config)]
    if checks:
        raise ConfigError(checks)
    config.database = resolve_database_url(config.database, base)
    errors: list[Problem] = []
    names: dict[str, Path] = {}
    for wl_path in resolve_watchlist_paths(config.watchlists, base, name, lines):
        try:
            watchlist = load_watchlist(wl_path, set(config.channels))
        except ConfigError as exc:
            errors += exc.problems
            continue
        if watchlist.watchlist in names:
            errors.append(Problem(str(wl_path), 1, "watchlist",
                                  f"watchlist name {watchlist.watchlist!r} is also used by {names[watchlist.watchlist]}"))
        names[watchlist.watchlist] = wl_path
        loaded.watchlists.append((wl_path, watchlist))
    if errors:
        raise ConfigError(errors)
    return loaded
