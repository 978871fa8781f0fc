"""Benchmark: import a city's 77,000 members from one .xlsx, end to end, against two baselines.

Runs in a fresh temporary SQLite database (``DATABASE_URL`` is set before ``django.setup()`` and the
schema is migrated), with 225 communities and 2,000 units created first. The file carries 77
deliberately bad rows (0.1 %), so the run exercises the whole path: safety checks, read, validate,
error report, and one transaction that writes members, skills and one audit row per member.

Baselines, measured in the same run:
  (a) bare read: python-calamine reading every row of the same file into Python values;
  (b) raw insert: ``executemany`` of the same members into ``members_member`` of an identical fresh
      database, through ``sqlite3`` with the same PRAGMAs, in one transaction. The ciphertexts,
      keyed hashes, masks and pinyin are computed before the clock starts (precomputed), so the
      baseline is the bare cost of moving the rows into the indexed table. The time to compute them
      is printed separately.

Target: the import ≤ 15 s on a 2-core machine and ≤ 4x (a) + (b). Wall times depend on what else
runs on the machine, so the CPU time of each phase is printed too (the import is single-threaded).
The last line is ``verdict: met`` or ``verdict: missed — <why>``.

    .venv/bin/python benchmarks/import_members.py [--rows 77000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.mkdtemp(prefix="jsq-import-bench-"))
os.environ["DATABASE_URL"] = f"sqlite:///{TMP / 'bench.sqlite3'}"
os.environ["JINSHEQU_VAR_DIR"] = str(TMP)
os.environ["DJANGO_SETTINGS_MODULE"] = "jinshequ.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

import django

django.setup()

import xlsxwriter
from django.core.management import call_command
from django.db import connection

from jinshequ.core import crypto
from jinshequ.core.idcard import (
    id_birth_date,
    id_gender,
    make_id_number,
    make_phone,
    mask_id_number,
    mask_phone,
)
from jinshequ.core.pinyin import name_pinyin
from jinshequ.imports.services import run_import, write_error_report
from jinshequ.members.importers import MemberImporter
from jinshequ.members.models import ID_PURPOSE, PHONE_PURPOSE, Member, Skill
from jinshequ.regions.models import Region, RegionKind
from jinshequ.units.models import UnitKind, WorkUnit

HEADINGS = (
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
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华红建国志文玉梅兵斌辉鹏宇晨浩然欣怡子轩"
TIMES = ("周末", "工作日晚上、周末", "工作日白天", "工作日白天、工作日晚上、周末", "")


def build_reference() -> tuple[list[str], list[str]]:
    """225 communities in 9 districts x 5 streets x 5; 2,000 units (bulk, not timed)."""
    city = Region.objects.create(name="本溪市", kind=RegionKind.CITY)
    city.path = f"{city.pk}."
    city.save(update_fields=["path"])
    communities = []
    for d in range(9):
        district = Region.objects.create(name=f"第{d + 1}区", kind=RegionKind.DISTRICT, parent=city)
        district.path = f"{city.path}{district.pk}."
        district.save(update_fields=["path"])
        for s in range(5):
            street = Region.objects.create(
                name=f"第{d + 1}区{s + 1}街道", kind=RegionKind.STREET, parent=district
            )
            street.path = f"{district.path}{street.pk}."
            street.save(update_fields=["path"])
            for c in range(5):
                community = Region.objects.create(
                    name=f"{d + 1}-{s + 1}-{c + 1}社区", kind=RegionKind.COMMUNITY, parent=street
                )
                community.path = f"{street.path}{community.pk}."
                community.save(update_fields=["path"])
                communities.append(community)
    kinds = list(UnitKind.values)
    units = WorkUnit.objects.bulk_create(
        [
            WorkUnit(
                name=f"本溪市第{i + 1}单位",
                kind=kinds[i % len(kinds)],
                region=communities[i % 225],
                region_path=communities[i % 225].path,
            )
            for i in range(2000)
        ],
        batch_size=500,
    )
    for unit in units:
        unit.path = f"{unit.pk}."
    WorkUnit.objects.bulk_update(units, ["path"], batch_size=500)
    return [u.name for u in units], [c.name for c in communities]


def generate(path: Path, rows: int, units: list[str], communities: list[str]) -> tuple[list[dict], int]:
    rng = random.Random(77000)
    skills = list(Skill.objects.values_list("name", flat=True))
    seen: set[str] = set()
    data = []
    bad = 0
    while len(data) < rows:
        birth = dt.date(1960 + rng.randrange(26), 1 + rng.randrange(12), 1 + rng.randrange(28))
        number = make_id_number(
            rng, area=f"2105{rng.randrange(10):02d}", birth=birth, male=rng.random() < 0.55
        )
        if number in seen:
            continue
        seen.add(number)
        data.append(
            {
                "姓名": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randrange(1, 3))),
                "性别": "男" if id_gender(number) == "M" else "女",
                "出生日期": id_birth_date(number).isoformat(),
                "身份证号": number,
                "手机号": make_phone(rng),
                "所在单位": rng.choice(units),
                "居住社区": rng.choice(communities),
                "居住地址": f"幸福路 {rng.randrange(1, 300)} 号",
                "党员状态": "预备" if rng.random() < 0.05 else "正式",
                "是否领导干部": "是" if rng.random() < 0.1 else "否",
                "特长": "、".join(rng.sample(skills, rng.randrange(0, 3))),
                "可服务时间": rng.choice(TIMES),
                "入党日期": dt.date(2008 + rng.randrange(15), 7, 1).isoformat(),
            }
        )
    for i in range(0, rows, 1000):  # 0.1 % bad rows: a wrong check digit
        number = data[i]["身份证号"]
        data[i]["身份证号"] = number[:17] + ("0" if number[17] != "0" else "1")
        bad += 1
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("党员信息")
    for c, heading in enumerate(HEADINGS):
        ws.write_string(0, c, heading)
    for r, row in enumerate(data, start=1):
        for c, heading in enumerate(HEADINGS):
            if row[heading]:
                ws.write_string(r, c, row[heading])
    wb.close()
    return data, bad


def bare_read(path: Path) -> tuple[float, int]:
    from python_calamine import CalamineWorkbook

    best = float("inf")
    for _ in range(2):  # best of two, like the import it reads a file already in the page cache
        start = time.perf_counter()
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        best = min(best, time.perf_counter() - start)
    return best, len(rows) - 1


def raw_insert(db_copy: Path, data: list[dict], unit_ids: dict[str, int], community_ids: dict[str, int]):
    """Precompute every stored value, then time only the executemany into the members table."""
    valid = [row for row in data if row["身份证号"][17] == _check(row["身份证号"])]
    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
    values = []
    for row in valid:
        number, phone = row["身份证号"], row["手机号"]
        pinyin, initials = name_pinyin(row["姓名"])
        values.append(
            (
                row["姓名"],
                pinyin,
                initials,
                id_gender(number),
                id_birth_date(number).isoformat(),
                crypto.encrypt(number, purpose=ID_PURPOSE),
                crypto.blind_index(number, purpose=ID_PURPOSE),
                mask_id_number(number),
                number[-4:],
                crypto.encrypt(phone, purpose=PHONE_PURPOSE),
                crypto.blind_index(phone, purpose=PHONE_PURPOSE),
                mask_phone(phone),
                phone[-4:],
                unit_ids[row["所在单位"]],
                community_ids[row["居住社区"]],
                row["居住地址"],
                "probationary" if row["党员状态"] == "预备" else "full",
                row["是否领导干部"] == "是",
                "工作日白天" in row["可服务时间"],
                "工作日晚上" in row["可服务时间"],
                "周末" in row["可服务时间"],
                row["入党日期"],
                "active",
                now,
                now,
            )
        )
    prepare = time.perf_counter() - start
    db = sqlite3.connect(db_copy, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "cache_size=-262144",
        "temp_store=MEMORY",
        "mmap_size=268435456",
        "foreign_keys=ON",
    ):
        db.execute(f"PRAGMA {pragma}")
    columns = (
        "name",
        "name_pinyin",
        "name_initials",
        "gender",
        "birth_date",
        "id_number_enc",
        "id_number_hash",
        "id_number_masked",
        "id_tail",
        "phone_enc",
        "phone_hash",
        "phone_masked",
        "phone_tail",
        "work_unit_id",
        "community_id",
        "address",
        "party_status",
        "is_leading_cadre",
        "avail_weekday_day",
        "avail_weekday_evening",
        "avail_weekend",
        "joined_party_on",
        "status",
        "created_at",
        "updated_at",
    )
    sql = f"INSERT INTO members_member ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start, cpu = time.perf_counter(), time.process_time()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(sql, values)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    print(f"    raw insert CPU {time.process_time() - cpu:.2f} s")
    count = db.execute("SELECT count(*) FROM members_member").fetchone()[0]
    db.close()
    return elapsed, prepare, count


def _check(number: str) -> str:
    from jinshequ.core.idcard import check_char

    return check_char(number[:17])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=77_000)
    args = parser.parse_args()
    print(
        f"database: {connection.settings_dict['NAME']} (SQLite {sqlite3.sqlite_version}), cpus: {os.cpu_count()}, "
        f"load average: {os.getloadavg()[0]:.1f}"
    )
    call_command("migrate", verbosity=0)
    units, communities = build_reference()
    connection.close()
    db_copy = TMP / "raw.sqlite3"
    src = sqlite3.connect(connection.settings_dict["NAME"])
    dst = sqlite3.connect(db_copy)
    src.backup(dst)
    src.close()
    dst.close()
    path = TMP / "members.xlsx"
    start = time.perf_counter()
    data, bad = generate(path, args.rows, units, communities)
    print(
        f"generated {args.rows:,} rows ({bad} bad) in {time.perf_counter() - start:.1f} s, "
        f"{path.stat().st_size / 1e6:.1f} MB"
    )

    read_s, read_rows = bare_read(path)
    unit_ids = dict(WorkUnit.objects.values_list("name", "id"))
    community_ids = dict(Region.objects.filter(kind=RegionKind.COMMUNITY).values_list("name", "id"))
    insert_s, prepare_s, inserted = raw_insert(db_copy, data, unit_ids, community_ids)
    connection.close()

    timings: dict[str, tuple[float, float]] = {}
    clock = {"phase": "read", "wall": 0.0, "cpu": 0.0}

    def mark(next_phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        timings[clock["phase"]] = (wall - clock["wall"], cpu - clock["cpu"])
        clock.update(phase=next_phase, wall=wall, cpu=cpu)

    def progress(phase: str, done: int, total: int) -> None:
        if phase != clock["phase"]:
            mark(phase)

    start, start_cpu = time.perf_counter(), time.process_time()
    clock.update(wall=start, cpu=start_cpu)
    importer = MemberImporter(user=None, progress=progress)
    outcome = run_import(importer, path, path.name, apply=True, only_valid=True)
    mark("error report")
    write_error_report(TMP / "errors.xlsx", outcome.errors)
    mark("end")
    import_s, import_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert outcome.created == args.rows - bad and outcome.error_rows == bad, outcome
    assert Member.objects.count() == args.rows - bad and inserted == args.rows - bad

    baseline = read_s + insert_s
    ratio = import_s / baseline
    print(f"(a) bare read, calamine:            {read_s:6.2f} s  ({read_rows:,} rows)")
    print(
        f"(b) raw insert, executemany:        {insert_s:6.2f} s  ({inserted:,} rows; ciphertexts, hashes, "
        f"masks and pinyin precomputed in {prepare_s:.2f} s, not counted)"
    )
    print(
        f"import end to end:                  {import_s:6.2f} s  (created {outcome.created:,}, "
        f"errors {outcome.error_rows}, audit rows {outcome.created:,} + 1)"
    )
    for phase, (wall, cpu) in timings.items():
        print(f"    {phase:<30} {wall:6.2f} s  (CPU {cpu:.2f} s)")
    print(f"    {'total':<30} {import_s:6.2f} s  (CPU {import_cpu:.2f} s)")
    print(
        f"ratio import / (a + b):             {ratio:6.2f}x  (with the precomputation counted in the "
        f"baseline: {import_s / (baseline + prepare_s):.2f}x)"
    )
    print(
        f"load average now: {os.getloadavg()[0]:.1f} (other processes share the 2 cores: compare the ratio)"
    )
    shutil.rmtree(TMP, ignore_errors=True)
    problems = []
    if import_s > 15:
        problems.append(
            f"import took {import_s:.1f} s > 15 s (its CPU time {import_cpu:.1f} s; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
    if ratio > 4:
        problems.append(f"ratio {ratio:.2f}x > 4x")
    print("verdict: met" if not problems else f"verdict: missed — {'; '.join(problems)}")


if __name__ == "__main__":
    main()
