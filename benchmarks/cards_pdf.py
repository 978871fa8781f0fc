"""Benchmark: print the contact cards (联系卡) of a 2,000-member unit as one PDF, step by step.

Runs in a fresh temporary SQLite database (migrated here), with one unit of ``--members`` active
members. The steps are those of ``views_cards.card_unit_pdf``: select the members (scope selector),
issue the missing cards and draw the QR codes, render the PDF with WeasyPrint, record the print.
Prints wall and CPU seconds per step, the pages, the size and the peak memory.

Target: the whole print of 2,000 cards < 30 s on a 2-core machine. The last line is
``verdict: met`` or ``verdict: missed — <why>``.

    .venv/bin/python benchmarks/cards_pdf.py [--members 2000] [--out /tmp/cards.pdf]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.mkdtemp(prefix="jsq-cards-bench-"))
os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'bench.sqlite3'}"
os.environ["JINSHEQU_VAR_DIR"] = str(TMP)
os.environ["DJANGO_SETTINGS_MODULE"] = "jinshequ.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

import django

django.setup()

from django.core.management import call_command

from jinshequ.accounts.models import Role, User
from jinshequ.core.idcard import make_id_number, make_phone
from jinshequ.core.pdf import render_pdf
from jinshequ.core.pinyin import name_pinyin
from jinshequ.members import cards as card_prints
from jinshequ.members.models import Member
from jinshequ.regions.models import RegionKind
from jinshequ.regions.services import region_create
from jinshequ.units.services import unit_create

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈欧阳"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华红建国志文玉梅兵斌辉鹏宇晨浩然欣怡子轩"


class Clock:
    def __init__(self):
        self.rows = []

    def step(self, label, fn):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        self.rows.append((label, time.perf_counter() - w, time.process_time() - c))
        return result


def build(n: int):
    city = region_create(name="本溪市", kind=RegionKind.CITY, parent=None, actor=None)
    district = region_create(name="平山区", kind=RegionKind.DISTRICT, parent=city, actor=None)
    streets = [
        region_create(name=f"第{i + 1}街道", kind=RegionKind.STREET, parent=district, actor=None)
        for i in range(3)
    ]
    communities = [
        region_create(name=f"幸福第{i + 1}社区", kind=RegionKind.COMMUNITY, parent=streets[i % 3], actor=None)
        for i in range(12)
    ]
    unit = unit_create(name="本溪市人民政府办公厅机关事务管理局", region=district, parent=None, actor=None)
    rng = random.Random(7)
    members = []
    for i in range(n):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        number = make_id_number(
            rng, area="210502", birth=dt.date(1980, 1, 1) + dt.timedelta(days=i), male=True
        )
        m = Member(
            name=name,
            gender="M",
            birth_date="1980-01-01",
            work_unit=unit,
            community=communities[i % len(communities)],
        )
        m.name_pinyin, m.name_initials = name_pinyin(name)
        m.set_id_number(number)
        m.set_phone(make_phone(rng))
        members.append(m)
    Member.objects.bulk_create(members, batch_size=1000)
    admin = User.objects.create(username="unit_admin", role=Role.UNIT_ADMIN, work_unit=unit)
    return unit, admin


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    try:
        call_command("migrate", verbosity=0)
        unit, admin = build(args.members)
        clock = Clock()
        members = clock.step(
            "select members (scope)",
            lambda: list(
                card_prints.card_print_members(
                    admin, unit, include_sub=False, only_unprinted=True
                ).select_related("work_unit", "community", "community__parent")[: card_prints.CARDS_PER_PDF]
            ),
        )
        prepared = clock.step(
            "issue cards + tokens + QR PNGs", lambda: card_prints.cards_prepare(members=members, actor=admin)
        )
        printed = [p for _, p in prepared]
        per = card_prints.CARDS_PER_PAGE
        sheets = [printed[i : i + per] for i in range(0, len(printed), per)]
        pdf = clock.step(
            "render PDF (WeasyPrint)",
            lambda: render_pdf("pdf/cards.html", {"sheets": sheets, "title": unit.name, "printed_on": None}),
        )
        clock.step(
            "record the print",
            lambda: card_prints.cards_mark_printed(cards=[c for c, _ in prepared], actor=admin, unit=unit),
        )
        total_wall = sum(r[1] for r in clock.rows)
        total_cpu = sum(r[2] for r in clock.rows)
        print(f"contact cards for {len(members)} members, {len(sheets)} A4 pages, {len(pdf) / 1e6:.1f} MB")
        for label, wall, cpu in clock.rows:
            print(f"  {label:<34} {wall:7.2f} s wall {cpu:7.2f} s cpu")
        print(f"  {'total':<34} {total_wall:7.2f} s wall {total_cpu:7.2f} s cpu")
        print(
            f"  peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        if args.out:
            Path(args.out).write_bytes(pdf)
            print(f"  written to {args.out}")
        if total_wall < 30:
            print("verdict: met")
        else:
            why = "the machine is busy (cpu time under 30 s)" if total_cpu < 30 else "too slow"
            print(f"verdict: missed — {total_wall:.1f} s wall ({why})")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
