"""Every string the console shows has a zh_CN translation; language choice per request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from liveloop.web import i18n

SRC = Path(i18n.__file__).parents[1]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "translate": (2,)}


def used_msgids() -> dict[str, str]:
    """msgid -> first place it is used, from the templates and the console's Python code."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(SRC),
        method_map=[
            ("**/templates/**.html", "jinja2"),
            ("web/**.py", "python"),
            ("*/pages.py", "python"),
            ("**/pages.py", "python"),
        ],
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def catalog(language: str) -> dict[str, str]:
    with i18n.po_path(language).open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and not m.fuzzy}


def test_templates_are_scanned() -> None:
    used = used_msgids()
    assert "Dashboard" in used  # from nav.py
    assert "Log in to the console" in used  # from login.html
    assert len(used) > 100


def test_every_msgid_has_a_chinese_translation() -> None:
    translated = {k for k, v in catalog("zh_CN").items() if v}
    missing = {msgid: where for msgid, where in used_msgids().items() if msgid not in translated}
    assert not missing, f"untranslated in zh_CN (run the extraction in web/i18n.py): {missing}"


def test_english_catalog_lists_the_same_msgids() -> None:
    assert set(used_msgids()) <= set(catalog("en"))


def test_placeholders_survive_translation() -> None:
    for msgid, text in catalog("zh_CN").items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid


def test_catalogs_compile_in_memory() -> None:
    assert i18n.translations("zh_CN").gettext("Dashboard") == "首页"
    assert i18n.translations("en").gettext("Dashboard") == "Dashboard"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("fr-FR, en;q=0.5, zh;q=0.7", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("de, fr", None),
        ("", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert i18n.from_accept_language(header) == expected
