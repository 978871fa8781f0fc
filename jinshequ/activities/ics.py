"""An iCalendar (RFC 5545) file of a member's upcoming activities.

Times are written in UTC with the ``Z`` suffix (RFC 5545 §3.3.5 form 2), which every calendar shows in the
reader's own zone (Asia/Shanghai here) without shipping a VTIMEZONE. TEXT values are escaped (§3.3.11),
lines are folded at 75 octets without splitting a UTF-8 character (§3.1), and every line ends in CRLF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.utils.translation import gettext

from jinshequ.activities.models import Signup, SignupStatus

PRODID = "-//Jinshequ//进社区 活动日历//ZH"


def escape_text(value: str) -> str:
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> list[str]:
    """Split a content line into pieces of at most 75 octets; continuation pieces start with a space."""
    out, current, size = [], [], 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(ch)
        size += n
    out.append("".join(current))
    return out


def render_calendar(
    signups: Iterable[Signup],
    *,
    now: dt.datetime,
    url_for: Callable[[int], str],
    uid_domain: str,
    name: str = gettext("进社区 · 我的活动"),
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        "X-WR-TIMEZONE:Asia/Shanghai",
    ]
    for signup in signups:
        a = signup.activity
        waiting = signup.status == SignupStatus.WAITLISTED
        summary = gettext("%(title)s（候补）") % {"title": a.title} if waiting else a.title
        description = "\n".join(
            x
            for x in (
                gettext("类别：%(name)s") % {"name": a.category.name},
                gettext("社区：%(name)s") % {"name": a.community.name},
                gettext("您在候补名单中，有空位时会通知您。")
                if waiting
                else gettext("到场后请扫描现场二维码签到，结束时签退。"),
                a.description,
            )
            if x
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:activity-{a.pk}@{uid_domain}",
            f"DTSTAMP:{utc(now)}",
            f"DTSTART:{utc(a.starts_at)}",
            f"DTEND:{utc(a.ends_at)}",
            f"SUMMARY:{escape_text(summary)}",
            f"LOCATION:{escape_text(a.place)}",
            f"DESCRIPTION:{escape_text(description)}",
            f"STATUS:{'TENTATIVE' if waiting else 'CONFIRMED'}",
            f"URL:{url_for(a.pk)}",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{escape_text(gettext('明天的活动：') + a.title)}",
            "TRIGGER:-P1D",
            "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(piece + "\r\n" for line in lines for piece in fold(line))
