"""Variables of script texts (`{客户昵称}` or `{name}`): which exist, checking a text at save
time, and filling it for one customer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from liveloop.core.errors import InvalidInput


@dataclass(frozen=True)
class Variable:
    name: str  # canonical (Chinese, as merchants write it)
    aliases: tuple[str, ...]
    label: str  # English msgid
    fallback: str  # used when the customer has no value (and reported as missing)


VARIABLES: tuple[Variable, ...] = (
    Variable("客户昵称", ("name", "昵称"), "Customer's name", "亲"),
    Variable("会员等级", ("tier",), "Member tier", ""),
    Variable("积分", ("points",), "Points balance", "0"),
    Variable("最近订单号", ("last_order",), "Latest order number", ""),
    Variable("店铺名", ("shop",), "Shop name", ""),
)
BY_NAME: dict[str, Variable] = {
    key: variable for variable in VARIABLES for key in (variable.name, *variable.aliases)
}
# Anything in single braces is a variable; no nesting, no line breaks.
PATTERN = re.compile(r"\{([^{}\n]{1,30})\}")


def variables_in(text: str) -> list[str]:
    """Canonical names of the known variables the text uses, in order of first use."""
    seen: list[str] = []
    for match in PATTERN.finditer(text):
        variable = BY_NAME.get(match.group(1).strip())
        if variable is not None and variable.name not in seen:
            seen.append(variable.name)
    return seen


def check_variables(text: str, *, field: str = "text") -> None:
    unknown = [m.group(0) for m in PATTERN.finditer(text) if m.group(1).strip() not in BY_NAME]
    if unknown:
        known = ", ".join("{" + v.name + "}" for v in VARIABLES)
        raise InvalidInput(
            f"unknown variable {unknown[0]} in the text; the variables are {known}"
            " (or their English names {name}, {tier}, {points}, {last_order}, {shop})",
            code="unknown_variable",
            field=field,
        )
    if "{" in PATTERN.sub("", text) or "}" in PATTERN.sub("", text):
        raise InvalidInput(
            "a brace in the text opens no variable: write a variable as {客户昵称}",
            code="unclosed_variable",
            field=field,
        )


def fill(text: str, values: dict[str, str | None]) -> tuple[str, list[str]]:
    """(filled text, canonical names that had no value and got their fallback)."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        variable = BY_NAME.get(match.group(1).strip())
        if variable is None:  # saved before the variable was retired: leave it visible
            return match.group(0)
        value = values.get(variable.name)
        if value:
            return value
        if variable.name not in missing:
            missing.append(variable.name)
        return variable.fallback

    return PATTERN.sub(replace, text), missing
