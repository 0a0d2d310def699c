"""Rendering a message's parts (text, subject, html, link_url) with the customer's variables.

One sandboxed Jinja environment with strict undefined names: a template cannot reach Python
internals, and a misspelt variable is an error rather than an empty string. Broadcasts and
reminders both render through `compile_template`; saved templates and posters (issue 7) are
still to come and will compile through it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from liveloop.outreach.contracts import RenderedMessage

PARTS = ("text", "subject", "html", "link_url")

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class CompiledMessage:
    def __init__(self, parts: Mapping[str, Any], *, marketing: bool) -> None:
        self.marketing = marketing
        self.parts = {
            name: _env.from_string(value)
            for name, value in parts.items()
            if isinstance(value, str) and name in PARTS
        }

    def render(self, context: Mapping[str, Any]) -> RenderedMessage:
        out = {name: template.render(context) for name, template in self.parts.items()}
        return RenderedMessage(
            text=out.get("text", ""),
            subject=out.get("subject"),
            html=out.get("html"),
            link_url=out.get("link_url"),
            marketing=self.marketing,
        )


def compile_template(parts: Mapping[str, Any], *, marketing: bool) -> CompiledMessage:
    """Compile once, render per customer; a syntax error is raised here, before any send."""
    return CompiledMessage(parts, marketing=marketing)
