"""Pinyin initials and full pinyin for name search, with surname readings corrected.

pypinyin reads 单, 曾, 解, 仇, 区 … with their common readings; as surnames they read
shan, zeng, xie, qiu, ou. The override table applies to the first character only.
"""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin

SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "盖": "ge",
    "尉": "yu",
    "乐": "yue",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "召": "shao",
    "长": "chang",
    "重": "chong",
    "种": "chong",
    "秘": "bi",
    "冼": "xian",
    "牟": "mu",
    "藏": "zang",
    "员": "yun",
    "华": "hua",
    "任": "ren",
    "宁": "ning",
    "沈": "shen",
    "俞": "yu",
    "柏": "bai",
}


@lru_cache(maxsize=8192)
def _char(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")[0] if ch.strip() else ""


def name_pinyin(name: str) -> tuple[str, str]:
    """Return ``(full, initials)`` such as ``("shanxiaoming", "sxm")`` for 单晓明."""
    parts = []
    for i, ch in enumerate(name):
        reading = SURNAME_READINGS.get(ch) if i == 0 else None
        reading = reading or (_char(ch) if "\u4e00" <= ch <= "\u9fff" else ch.lower())
        if reading:
            parts.append(reading)
    return "".join(parts), "".join(p[0] for p in parts if p)
