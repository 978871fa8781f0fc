"""Spreadsheet files for the import tests: member rows built from canary ID numbers and phones."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import xlsxwriter

from jinshequ.core.idcard import id_birth_date, make_id_number, make_phone
from tests.factories import CANARY_IDS, CANARY_PHONES

MEMBER_HEADINGS = (
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "手机号",
    "所在单位",
    "居住社区",
    "居住地址",
    "党员状态",
    "是否领导干部",
    "特长",
    "可服务时间",
    "入党日期",
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华红建国志文玉梅兵斌辉鹏宇"


class IdSource:
    """Distinct valid ID numbers and phones, each registered as a canary."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)

    def id_number(self, male: bool | None = None) -> str:
        while True:
            birth = dt.date(
                1960 + self.rng.randrange(26), 1 + self.rng.randrange(12), 1 + self.rng.randrange(28)
            )
            number = make_id_number(
                self.rng, area="210502", birth=birth, male=self.rng.random() < 0.5 if male is None else male
            )
            if number not in CANARY_IDS:
                CANARY_IDS.add(number)
                return number

    def phone(self) -> str:
        while True:
            phone = make_phone(self.rng)
            if phone not in CANARY_PHONES:
                CANARY_PHONES.add(phone)
                return phone

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(
            self.rng.choice(GIVEN) for _ in range(self.rng.randrange(1, 3))
        )


def member_row(ids: IdSource, *, unit: str, community: str, id_number: str | None = None, **extra) -> dict:
    number = id_number or ids.id_number()
    row = {
        "姓名": ids.name(),
        "性别": "男" if int(number[16]) % 2 else "女",
        "出生日期": id_birth_date(number).isoformat(),
        "身份证号": number,
        "手机号": ids.phone(),
        "所在单位": unit,
        "居住社区": community,
        "居住地址": "幸福路 8 号 3 单元 501",
        "党员状态": "正式",
        "是否领导干部": "否",
        "特长": "法律咨询、医疗保健",
        "可服务时间": "工作日晚上、周末",
        "入党日期": "2005-07-01",
    }
    row.update(extra)
    return row


def member_rows(n: int, *, unit: str, community: str, seed: int = 7) -> list[dict]:
    ids = IdSource(seed)
    return [member_row(ids, unit=unit, community=community) for _ in range(n)]


def write_xlsx(
    path: Path,
    rows: Iterable[dict],
    headings: Sequence[str] = MEMBER_HEADINGS,
    *,
    numeric: Sequence[str] = (),
    sheet: str = "党员信息",
) -> Path:
    """Strings as strings; the columns named in ``numeric`` are written as numbers (as Excel would)."""
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    ws = wb.add_worksheet(sheet)
    for c, heading in enumerate(headings):
        ws.write_string(0, c, heading)
    for r, row in enumerate(rows, start=1):
        for c, heading in enumerate(headings):
            value = row.get(heading, "")
            if value == "" or value is None:
                continue
            if heading in numeric:
                ws.write_number(r, c, float(value))
            else:
                ws.write_string(r, c, str(value))
    wb.close()
    return path


def write_csv(
    path: Path,
    rows: Iterable[dict],
    headings: Sequence[str] = MEMBER_HEADINGS,
    *,
    encoding: str = "utf-8-sig",
) -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(headings)
        for row in rows:
            writer.writerow([row.get(h, "") for h in headings])
    return path


def ensure_skills() -> None:
    """The skills the files name. They come from a data migration, which ``transactional_db`` tests
    flush, so a test must not rely on it."""
    from jinshequ.members.models import Skill

    for order, name in enumerate(("法律咨询", "医疗保健", "驾驶")):
        Skill.objects.get_or_create(name=name, defaults={"sort_order": order})
