"""The shop's sensitive-word list and the filter every comment goes through: Aho-Corasick over
the list (one pass per comment whatever its size), matching case-insensitively and full-width
forms as half-width; a word either blocks the comment or is masked with ＊.

`load_word_filter` keeps one filter per shop in this process, rebuilt when this process changes
the list and at most WORD_CACHE_SECONDS old otherwise (changes made by other processes).
Re-exported by `live.moderation`.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import after_commit, get_scoped, scoped
from liveloop.core.errors import InvalidInput
from liveloop.live.models import SensitiveWord, WordAction
from liveloop.shops.service import Actor, record_audit

MAX_WORD_LENGTH = 50
MAX_WORDS_PER_SHOP = 10_000
MASK_CHAR = "＊"
WORD_CACHE_SECONDS = 5.0  # how soon another process sees a changed word list


def _fold_char(char: str) -> str:
    """One character in the form words are matched on: full-width → half-width, case folded.

    Kept one character for one so that a match's position in the folded text is its position
    in the original (that is what masking needs); a character that folds into several keeps
    its plain lower case.
    """
    folded = unicodedata.normalize("NFKC", char).casefold()
    if len(folded) == 1:
        return folded
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def fold_text(text: str) -> str:
    return "".join(_fold_char(char) for char in text)


@dataclass(frozen=True)
class FilterResult:
    blocked: bool
    text: str  # the text with masked words replaced by ＊ (the original when nothing matched)
    matched: list[str] = field(default_factory=list)  # the list's words found, in order


class WordFilter:
    """Aho-Corasick over the shop's words: one pass over a comment whatever the list's size."""

    def __init__(self, words: Iterable[tuple[str, str]]) -> None:
        self._automaton: Any = None
        self.size = 0
        automaton = ahocorasick.Automaton()
        for word, action in words:
            folded = fold_text(word.strip())
            if not folded:
                continue
            existing = automaton.get(folded, None)
            # The same word twice (ｆｏｏ and foo): blocking wins over masking.
            if existing is not None and existing[1] == WordAction.BLOCK.value:
                continue
            automaton.add_word(folded, (word.strip(), WordAction(action).value, len(folded)))
            self.size += 1
        if self.size:
            automaton.make_automaton()
            self._automaton = automaton

    @classmethod
    def from_words(cls, words: Iterable[tuple[str, str]]) -> WordFilter:
        return cls(words)

    def check(self, text: str) -> FilterResult:
        if self._automaton is None or not text:
            return FilterResult(blocked=False, text=text)
        masked = list(text)
        matched: list[str] = []
        blocked = False
        for end, (word, action, length) in self._automaton.iter(fold_text(text)):
            if word not in matched:
                matched.append(word)
            if action == WordAction.BLOCK.value:
                blocked = True
            else:
                for index in range(end - length + 1, end + 1):
                    masked[index] = MASK_CHAR
        if not matched:
            return FilterResult(blocked=False, text=text)
        return FilterResult(blocked=blocked, text="".join(masked), matched=matched)


EMPTY_FILTER = WordFilter(())

# shop id -> (loaded at, monotonic; version it was loaded at; filter)
_filters: dict[int, tuple[float, int, WordFilter]] = {}
_versions: dict[int, int] = {}


def _invalidate_filter(shop_id: int) -> None:
    _versions[shop_id] = _versions.get(shop_id, 0) + 1


async def load_word_filter(*, session: AsyncSession, shop_id: int) -> WordFilter:
    """The shop's filter: from this process's cache when this process has not changed the list
    since and it is younger than WORD_CACHE_SECONDS (changes made by other processes)."""
    version = _versions.get(shop_id, 0)
    cached = _filters.get(shop_id)
    now = time.monotonic()
    if cached is not None and cached[1] == version and now - cached[0] < WORD_CACHE_SECONDS:
        return cached[2]
    rows = await session.execute(
        scoped(SensitiveWord, shop_id, SensitiveWord.word, SensitiveWord.action)
    )
    word_filter = WordFilter.from_words((row.word, row.action) for row in rows)
    _filters[shop_id] = (now, version, word_filter)
    return word_filter


def _words_changed(session: AsyncSession, shop_id: int) -> None:
    # Now (this transaction sees its own change) and again after commit (a reload that ran
    # between the two must not stay cached with the old list).
    _invalidate_filter(shop_id)
    after_commit(session, lambda: _invalidate_filter(shop_id))


def _check_word(word: str) -> str:
    word = word.strip()
    if not word:
        raise InvalidInput("the word is empty", code="word_empty", field="word")
    if len(word) > MAX_WORD_LENGTH:
        raise InvalidInput(
            f"a word has at most {MAX_WORD_LENGTH} characters (this one has {len(word)})",
            code="word_too_long",
            field="word",
        )
    return word


async def list_words(*, session: AsyncSession, shop_id: int) -> list[SensitiveWord]:
    statement = scoped(SensitiveWord, shop_id).order_by(SensitiveWord.word)
    return list((await session.execute(statement)).scalars())


async def add_words(
    *, session: AsyncSession, actor: Actor, words: Sequence[tuple[str, str]]
) -> list[SensitiveWord]:
    """Add words (an existing word gets the new action); returns the rows added or changed."""
    wanted: dict[str, str] = {}
    for word, action in words:
        wanted[_check_word(word)] = WordAction(action).value
    if not wanted:
        raise InvalidInput("give at least one word", code="word_empty", field="words")
    existing = {
        row.word: row
        for row in (
            await session.execute(
                scoped(SensitiveWord, actor.shop_id).where(SensitiveWord.word.in_(list(wanted)))
            )
        ).scalars()
    }
    count = len(await list_words(session=session, shop_id=actor.shop_id))
    new = len(set(wanted) - set(existing))
    if count + new > MAX_WORDS_PER_SHOP:
        raise InvalidInput(
            f"a shop keeps at most {MAX_WORDS_PER_SHOP} words ({count} now, {new} more given)",
            code="too_many_words",
            field="words",
        )
    changed = []
    for word, action in wanted.items():
        row = existing.get(word)
        if row is None:
            row = SensitiveWord(shop_id=actor.shop_id, word=word, action=action)
            session.add(row)
        row.action = action
        changed.append(row)
    await session.flush()
    await record_audit(
        session=session,
        actor=actor,
        action="live.words.add",
        target_type="sensitive_word",
        details={"words": sorted(wanted), "count": len(wanted)},
    )
    _words_changed(session, actor.shop_id)
    return changed


async def get_word(*, session: AsyncSession, shop_id: int, word_id: int) -> SensitiveWord:
    return await get_scoped(
        session, SensitiveWord, shop_id=shop_id, record_id=word_id, label="word"
    )


async def update_word(
    *, session: AsyncSession, actor: Actor, word_id: int, action: str
) -> SensitiveWord:
    row = await get_word(session=session, shop_id=actor.shop_id, word_id=word_id)
    row.action = WordAction(action).value
    await record_audit(
        session=session,
        actor=actor,
        action="live.words.update",
        target_type="sensitive_word",
        target_id=row.id,
        details={"word": row.word, "action": row.action},
    )
    _words_changed(session, actor.shop_id)
    return row


async def delete_word(*, session: AsyncSession, actor: Actor, word_id: int) -> None:
    row = await get_scoped(
        session, SensitiveWord, shop_id=actor.shop_id, record_id=word_id, label="word"
    )
    await session.delete(row)
    await record_audit(
        session=session,
        actor=actor,
        action="live.words.delete",
        target_type="sensitive_word",
        target_id=word_id,
        details={"word": row.word},
    )
    _words_changed(session, actor.shop_id)
