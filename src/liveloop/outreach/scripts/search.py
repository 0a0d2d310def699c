"""Search words of the script library, cut with jieba (中文分词).

Entries and questions are cut the same way (`lcut_for_search`, which also yields the shorter
words inside long ones: 退换货 → 退换, 换货, 退换货), lower-cased, with question filler left out
so that 什么时候发货呀 looks for 时候 and 发货 and finds the 发货时间 entry.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from typing import Any

MAX_TOKEN = 40
# Particles, pronouns and question words: every question has them, no answer is about them.
# fmt: off
STOPWORDS = frozenset({
    "的", "了", "吗", "呢", "吧", "啊", "呀", "哦", "哈", "嗯", "么", "是", "我", "你", "您",
    "他", "她", "它", "我们", "你们", "这", "那", "这个", "那个", "有", "在", "也", "都", "就",
    "还", "和", "与", "或", "很", "要", "会", "能", "可以", "一下", "什么", "怎么", "怎么样", "怎样",
    "多少", "请问", "亲", "一个",
})
# fmt: on
_WORDY = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


@cache
def _jieba() -> Any:
    with warnings.catch_warnings():  # jieba 0.42 still imports pkg_resources
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(60)
    return jieba


def tokens(*texts: str) -> set[str]:
    """The search words of some texts: no filler, no punctuation, no lone characters (a lone
    Chinese character matches far too much), but lone digits and Latin words are kept."""
    found: set[str] = set()
    for text in texts:
        for word in _jieba().lcut_for_search(text or ""):
            word = word.strip().lower()
            if not word or word in STOPWORDS or not _WORDY.search(word):
                continue
            if len(word) < 2 and not word.isascii():
                continue
            found.add(word[:MAX_TOKEN])
    return found
