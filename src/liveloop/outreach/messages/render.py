"""Rendering a message's parts (text, subject, html, links, cards) with the customer's variables.

One sandboxed Jinja environment with strict undefined names: a template cannot reach Python
internals, and a misspelt variable is an error rather than an empty string. Broadcasts,
reminders and saved templates all compile through `compile_template`; `check_parts` is the
save-time check, which names the part, the line and the unknown variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from liveloop.core.errors import InvalidInput
from liveloop.outreach.contracts import ChannelKind, RenderedMessage

TEXT_PARTS = (
    "text",
    "subject",
    "html",
    "image_url",
    "link_url",
    "link_title",
    "link_description",
)
MINIPROGRAM_KEYS = ("appid", "pagepath", "title")
PARTS = (*TEXT_PARTS, "miniprogram")

# Which parts each channel kind can carry (the rest are refused at save time).
KIND_PARTS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.EMAIL: ("subject", "text", "html"),
    ChannelKind.WECOM_CUSTOMER: (
        "text", "image_url", "link_url", "link_title", "link_description", "miniprogram"
    ),
    ChannelKind.WECOM_GROUP: (
        "text", "image_url", "link_url", "link_title", "link_description", "miniprogram"
    ),
    ChannelKind.SMS: ("text",),
    ChannelKind.WEBHOOK: ("text", "subject", "link_url", "image_url"),
}  # fmt: skip

# The variables a template may use: name -> its attributes (None: a plain value).
VARIABLES: dict[str, tuple[str, ...] | None] = {
    "customer": ("name", "tier", "points", "orders"),  # orders: paid orders so far
    "live": ("title", "starts_at", "link", "poster_url", "anchor"),
    "coupon": ("code",),
    "shop": ("name",),
    "products": ("name", "price", "url", "image_url"),  # a list: {% for p in products %}
    "reminder": ("minutes", "text"),
    "unsubscribe_url": None,
}

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
# The html part escapes what it fills in (a customer named "<b>" stays text).
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class CompiledMessage:
    def __init__(self, parts: Mapping[str, Any], *, marketing: bool) -> None:
        self.marketing = marketing
        self.parts = {
            name: (_html_env if name == "html" else _env).from_string(value)
            for name, value in parts.items()
            if isinstance(value, str) and name in TEXT_PARTS
        }
        card = parts.get("miniprogram")
        self.miniprogram = {
            key: _env.from_string(value)
            for key, value in (card.items() if isinstance(card, Mapping) else ())
            if isinstance(value, str) and key in MINIPROGRAM_KEYS
        }

    def render(self, context: Mapping[str, Any]) -> RenderedMessage:
        out = {name: template.render(context) for name, template in self.parts.items()}
        card = {key: template.render(context) for key, template in self.miniprogram.items()}
        return RenderedMessage(
            text=out.get("text", ""),
            subject=out.get("subject"),
            html=out.get("html"),
            image_url=out.get("image_url") or None,
            link_url=out.get("link_url") or None,
            link_title=out.get("link_title") or None,
            link_description=out.get("link_description") or None,
            miniprogram=card or None,
            marketing=self.marketing,
        )


def compile_template(parts: Mapping[str, Any], *, marketing: bool) -> CompiledMessage:
    """Compile once, render per customer; a syntax error is raised here, before any send."""
    return CompiledMessage(parts, marketing=marketing)


# --------------------------------------------------------------------------- save-time check


def _sources(parts: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = [(name, parts[name]) for name in TEXT_PARTS if isinstance(parts.get(name), str)]
    card = parts.get("miniprogram")
    if isinstance(card, Mapping):
        found += [
            (f"miniprogram.{key}", card[key])
            for key in MINIPROGRAM_KEYS
            if isinstance(card.get(key), str)
        ]
    return found


def _unknown_name(tree: nodes.Template) -> tuple[str, int] | None:
    """The first variable (or attribute of a known variable) the template may not use."""
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    loops = {
        loop.target.name: loop.iter.name
        for loop in tree.find_all(nodes.For)
        if isinstance(loop.target, nodes.Name) and isinstance(loop.iter, nodes.Name)
    }
    for name in tree.find_all(nodes.Name):
        if (
            name.ctx == "load"
            and name.name not in VARIABLES
            and name.name not in assigned
            and name.name not in _env.globals
            and name.name != "loop"
        ):
            return name.name, name.lineno
    for attribute in tree.find_all(nodes.Getattr):
        if not isinstance(attribute.node, nodes.Name):
            continue
        owner = loops.get(attribute.node.name, attribute.node.name)
        allowed = VARIABLES.get(owner)
        if owner in VARIABLES and (allowed is None or attribute.attr not in allowed):
            return f"{attribute.node.name}.{attribute.attr}", attribute.lineno
    return None


def check_parts(kind: ChannelKind, parts: Mapping[str, Any], *, field: str = "parts") -> None:
    """Raise InvalidInput (with the part and the line) for anything that would fail a send."""
    allowed = KIND_PARTS[kind]
    for name in parts:
        if name not in allowed:
            raise InvalidInput(
                f"a {kind.value} message has no part {name!r}; its parts are " + ", ".join(allowed),
                code="unknown_part",
                field=f"{field}.{name}",
            )
    card = parts.get("miniprogram")
    if card is not None and not isinstance(card, Mapping):
        raise InvalidInput(
            "miniprogram is an object with appid, pagepath and title",
            code="invalid_part",
            field=f"{field}.miniprogram",
        )
    sources = _sources(parts)
    if not any(name == "text" and value.strip() for name, value in sources) and not (
        kind is ChannelKind.EMAIL and parts.get("html")
    ):
        raise InvalidInput("the message needs a text", code="missing_part", field=f"{field}.text")
    if kind is ChannelKind.EMAIL and not str(parts.get("subject") or "").strip():
        raise InvalidInput(
            "an e-mail needs a subject", code="missing_part", field=f"{field}.subject"
        )
    for name, source in sources:
        if len(source) > 20_000:
            raise InvalidInput(
                "a part is at most 20,000 characters", code="too_long", field=f"{field}.{name}"
            )
        try:
            tree = _env.parse(source)
        except TemplateSyntaxError as error:
            raise InvalidInput(
                f"{name}, line {error.lineno}: {error.message}",
                code="template_syntax",
                field=f"{field}.{name}",
            ) from error
        unknown = _unknown_name(tree)
        if unknown is not None:
            known = ", ".join(
                key if attrs is None else f"{key}.{{{','.join(attrs)}}}"
                for key, attrs in VARIABLES.items()
            )
            raise InvalidInput(
                f"{name}, line {unknown[1]}: unknown variable {unknown[0]}; the variables are "
                + known,
                code="unknown_variable",
                field=f"{field}.{name}",
            )
