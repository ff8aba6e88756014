"""The `select:` mapping of a feed that is not a feed: a JSON API (`kind: json`) or an HTML list page (`kind: html`).

Every expression is checked here, when the config loads, so that a typo is a configuration error
(`wirewatch check` exits 2 naming file, line and field) and never a surprise at poll time:
JMESPath expressions compile with `jmespath`, CSS selectors parse with selectolax's Lexbor engine,
`published.format` round-trips a sample date through strftime/strptime, and `tz` names an IANA zone.

`FeedConfig` (config/models.py) copies the feed's `kind` into the mapping before validation, so the
one mapping validates as `JsonSelect` or `HtmlSelect`; users never write that key themselves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["HtmlSelect", "JsonSelect", "Published", "SelectConfig", "check_strptime", "check_tz", "split_attr"]

_ATTR = re.compile(r"^(.*?)\s*@([A-Za-z_:][-A-Za-z0-9_:.]*)$", re.DOTALL)
_SAMPLE = datetime(2024, 2, 29, 23, 26, 5, tzinfo=UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_jmespath(expr: str) -> str:
    """`expr` if it compiles as JMESPath, else ValueError saying where it breaks."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    if not expr.strip():
        raise ValueError("expected a JMESPath expression, got an empty string")
    try:
        jmespath.compile(expr)
    except JMESPathError as exc:
        detail = " ".join(str(exc).split(", for expression")[0].split())
        raise ValueError(f"not a valid JMESPath expression {expr!r}: {detail}") from None
    return expr


def split_attr(selector: str) -> tuple[str, str | None]:
    """A `css@attr` field as (css, attr); `@href` alone means the item element's own attribute."""
    m = _ATTR.match(selector.strip())
    if m is None:
        return selector.strip(), None
    return m.group(1).strip(), m.group(2)


def check_css(selector: str, *, attr_allowed: bool = True) -> str:
    """`selector` if it parses as CSS (with an optional `@attr` suffix), else ValueError."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    css, attr = split_attr(selector) if attr_allowed else (selector.strip(), None)
    if not css and attr is None:
        raise ValueError("expected a CSS selector, got an empty string")
    if css:
        try:
            LexborHTMLParser("<p></p>").css(css)
        except SelectolaxError:
            hint = " (an attribute goes after @, like a@href)" if "@" in css else ""
            raise ValueError(f"not a valid CSS selector {css!r}{hint}") from None
    return selector


def check_strptime(fmt: str) -> str:
    """`fmt` if it is a usable strptime format or `unix`, else ValueError."""
    if fmt == "unix":
        return fmt
    if "%" not in fmt:
        raise ValueError(f"expected a strptime format like '%Y-%m-%d %H:%M', or unix, got {fmt!r}")
    try:
        datetime.strptime(_SAMPLE.strftime(fmt), fmt)
    except ValueError as exc:
        raise ValueError(f"not a usable strptime format {fmt!r}: {exc}") from None
    return fmt


def check_tz(name: str) -> str:
    """`name` if it is an IANA time zone (Asia/Shanghai, Asia/Tokyo, UTC), else ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; expected an IANA name like Asia/Shanghai or UTC") from None
    return name


class Published(_Strict):
    """Where an item's date is (`path` in JSON, `css` in HTML), how it is written, and its zone when it names none."""

    path: str | None = None
    css: str | None = None
    format: str | None = None
    """A strptime format, or `unix` (seconds since 1970); omitted: ISO 8601 or RFC 2822, else unix digits."""
    tz: str = "UTC"
    """The zone of dates written without one; every date is stored in UTC."""

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        return None if value is None else check_strptime(value)

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_tz(value)

    @property
    def where(self) -> str:
        """The path or selector of the date."""
        return self.path or self.css or ""


def _published(value: Any, key: str) -> Any:
    """A bare string `published: ctime` as `{path: ctime}` (JSON) or `{css: td.time}` (HTML)."""
    return {key: value} if isinstance(value, str) else value


class _Fields(_Strict):
    """The fields both kinds of source name; each kind says how (JMESPath or CSS)."""

    id: str | None = None
    title: str
    url: str | None = None
    published: Published | None = None
    body: str | None = None
    source: str | None = None
    author: str | None = None

    _date_key: ClassVar[Literal["path", "css"]]
    _date_hint: ClassVar[str]

    @classmethod
    def _check_date(cls, where: str) -> None:
        """Raise ValueError unless `where` is a valid expression of this kind."""
        raise NotImplementedError

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, value: Any) -> Any:
        return _published(value, cls._date_key)

    @field_validator("published")
    @classmethod
    def _published_where(cls, value: Published | None) -> Published | None:
        if value is not None:
            other = value.css if cls._date_key == "path" else value.path
            where = value.path if cls._date_key == "path" else value.css
            if other is not None or where is None:
                raise ValueError(cls._date_hint)
            cls._check_date(where)
        return value


class JsonSelect(_Fields):
    """Where each field of an item is in a JSON document: JMESPath expressions."""

    kind: Literal["json"] = "json"
    items: str = "@"
    """The list of items; `@` for a document that is the list."""

    _date_key: ClassVar[Literal["path", "css"]] = "path"
    _date_hint: ClassVar[str] = "a JSON source names its date with path: (a JMESPath expression)"

    @classmethod
    def _check_date(cls, where: str) -> None:
        check_jmespath(where)

    @field_validator("items", "id", "title", "url", "body", "source", "author")
    @classmethod
    def _expr(cls, value: str | None) -> str | None:
        return None if value is None else check_jmespath(value)



class HtmlSelect(_Fields):
    """Where each field of an item is on an HTML page: CSS selectors, `@attr` for an attribute."""

    kind: Literal["html"] = "html"
    items: str

    _date_key: ClassVar[Literal["path", "css"]] = "css"
    _date_hint: ClassVar[str] = "an HTML source names its date with css: (a CSS selector)"

    @classmethod
    def _check_date(cls, where: str) -> None:
        check_css(where)

    @field_validator("items")
    @classmethod
    def _items(cls, value: str) -> str:
        return check_css(value, attr_allowed=False)

    @field_validator("id", "title", "url", "body", "source", "author")
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        return None if value is None else check_css(value)



SelectConfig = Annotated[JsonSelect | HtmlSelect, Field(discriminator="kind")]
"""The `select:` mapping, validated by the feed's `kind`."""
