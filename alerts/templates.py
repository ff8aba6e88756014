"""User templates (Jinja2, sandboxed): compiled once at config time, rendered per message.

`SandboxedTemplate` is the one wrapper around Jinja2 the channels share (`alerts.render.JsonTemplate`
for webhook bodies, `alerts.apprise_render.ChatTemplate` for chat bodies): undefined names fail, the
sandbox refuses unsafe attribute access, and every Jinja2 error becomes a `TemplateError` naming the
channel. Feed values are passed in as data, never parsed as template text. Jinja2 is imported inside
the methods, so importing `alerts` does not load it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wirewatch.alerts.errors import TemplateError

__all__ = ["SandboxedTemplate"]


class SandboxedTemplate:
    """One compiled template of `channel`; `finalize` turns each `{{ value }}` into text (escaping, say)."""

    def __init__(self, source: str, channel: str, finalize: Callable[[Any], Any] | None = None) -> None:
        from jinja2 import StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        self.channel = channel
        env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, finalize=finalize)
        try:
            self._template = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"channel {channel!r}: template line {exc.lineno}: {exc.message}") from exc

    def render(self, context: Mapping[str, Any]) -> str:
        """The template's output for `context`; TemplateError when rendering fails."""
        from jinja2.exceptions import SecurityError
        from jinja2.exceptions import TemplateError as JinjaTemplateError

        try:
            return str(self._template.render(**context))
        except (SecurityError, JinjaTemplateError) as exc:
            raise TemplateError(f"channel {self.channel!r}: template failed: {exc}") from exc
