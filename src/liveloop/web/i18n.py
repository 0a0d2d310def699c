"""Console languages: gettext catalogs compiled in memory at startup, chosen per request.

The catalogs are `locale/<lang>/LC_MESSAGES/messages.po` beside this module, with English
msgids. They are read with Babel and compiled into memory when first needed, so there is no
build step and no `.mo` file in git.

To add or change strings, mark them in templates with ``{{ _("Text") }}`` or
``{% trans %}…{% endtrans %}``, and in Python with ``N_("Text")`` (a marker that translates
nothing; the template or `translate()` translates at render time). Then refresh the catalogs
from the repository root::

    .venv/bin/pybabel extract -F src/liveloop/web/babel.cfg -k N_ -k translate:2 -o /tmp/messages.pot src/liveloop
    .venv/bin/pybabel update -i /tmp/messages.pot -d src/liveloop/web/locale -D messages \\
        --no-fuzzy-matching
    # translate the new entries in locale/zh_CN/LC_MESSAGES/messages.po, then:
    .venv/bin/pytest tests/web/test_i18n.py   # fails on any msgid without a zh_CN translation
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: dict[str, str] = {"zh_CN": "简体中文", "en": "English"}
LANGUAGE_COOKIE = "lang"
SESSION_KEY = "lang"


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalog compiled in memory; English msgids are their own translation."""
    path = po_path(language)
    if language not in LANGUAGES or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def normalize_language(value: str | None) -> str | None:
    """'zh-cn', 'zh_Hans_CN', 'zh' -> 'zh_CN'; 'en-US' -> 'en'; anything else -> None."""
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag == "en" or tag.startswith("en_"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an Accept-Language header, by quality."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = normalize_language(tag)
        if language and quality > 0:
            choices.append((-quality, position, language))
    return min(choices)[2] if choices else None


def request_language(request: Request, default: str = "zh_CN") -> str:
    """Session choice (set by the switch, or from the staff preference at login), then the
    `lang` cookie, then Accept-Language, then the site default."""
    session = request.scope.get("session") or {}
    return (
        normalize_language(session.get(SESSION_KEY))
        or normalize_language(request.cookies.get(LANGUAGE_COOKIE))
        or from_accept_language(request.headers.get("accept-language"))
        or normalize_language(default)
        or "zh_CN"
    )


def gettext_for(request: Request) -> gettext.NullTranslations:
    """Translations for code that builds messages outside a template (flash notes)."""
    return translations(getattr(request.state, "language", None) or request_language(request))


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (translated when rendered)."""
    return message


def translate(request: Request, message: str, **values: object) -> str:
    """Translate a message for this request's language; `%(name)s` placeholders filled in."""
    text = gettext_for(request).gettext(message)
    return text % values if values else text
