"""Top words of a session's comments, cut with jieba (中文分词).

Comments repeat a lot in a live room ("上链接", "多少钱"), so the database groups identical
texts first and each distinct text is cut once, weighted by how often it was sent. A word
counts once per comment however often that comment repeats it.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any

TOP_KEYWORDS = 20
# Particles, pronouns and room filler that say nothing about what viewers wanted.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哦",
        "哈",
        "嗯",
        "么",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "我们",
        "你们",
        "这",
        "那",
        "这个",
        "那个",
        "有",
        "没有",
        "在",
        "也",
        "都",
        "就",
        "还",
        "和",
        "与",
        "或",
        "又",
        "很",
        "太",
        "好",
        "不",
        "要",
        "会",
        "能",
        "可以",
        "一个",
        "一下",
        "什么",
        "怎么",
        "多少",
        "给",
        "让",
        "把",
        "被",
        "吗？",
        "主播",
        "大家",
        "谢谢",
        "哈哈",
        "哈哈哈",
    ]
)
_WORDY = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


@cache
def _jieba() -> Any:
    with warnings.catch_warnings():  # jieba 0.42 still imports pkg_resources
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(60)
    return jieba


def _words(text: str) -> set[str]:
    words = set()
    for word in _jieba().lcut(text):
        word = word.strip().lower()
        if len(word) < 2 and not word.isdigit():
            continue
        if word in STOPWORDS or not _WORDY.search(word) or word.isdigit():
            continue
        words.add(word)
    return words


def top_keywords(
    texts: Iterable[tuple[str, int]], *, limit: int = TOP_KEYWORDS
) -> list[dict[str, Any]]:
    """[(text, times sent)] -> [{"word", "count"}], most frequent first, ties by word."""
    counts: Counter[str] = Counter()
    for text, times in texts:
        for word in _words(text or ""):
            counts[word] += int(times)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [{"word": word, "count": count} for word, count in ranked]
