"""Hostile uploads (R35, T5): each is refused with its own Chinese message, before any parser sees
it, within 2 s, with less than 200 MB of memory growth, and with nothing written."""

from __future__ import annotations

import io
import shutil
import struct
import time
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from jinshequ.core.xlsxsafe import MAX_ROWS, UnsafeFile, check_file, check_upload, decode_csv
from jinshequ.imports.models import ImportJob
from jinshequ.imports.services import run_import
from jinshequ.members.importers import MemberImporter
from jinshequ.members.models import Member

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _remove_files(tmp_path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


# --- building files --------------------------------------------------------------------


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A ZIP from (name, stored bytes, crc, declared uncompressed size, method) entries, by hand, so
    that names, sizes and contents can be whatever a hostile file would carry."""
    out = io.BytesIO()
    central = []
    for name, payload, crc, size, method in entries:
        offset = out.tell()
        raw_name = name.encode()
        out.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(payload), size, len(raw_name), 0
            )
        )
        out.write(raw_name)
        out.write(payload)
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0,
                crc,
                len(payload),
                size,
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw_name
        )
    start = out.tell()
    for record in central:
        out.write(record)
    size = out.tell() - start
    count = min(len(central), 0xFFFF)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))
    return out.getvalue()


def entry(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return (name, _deflate(data), zlib.crc32(data), len(data), 8)


def workbook_parts() -> dict[str, bytes]:
    """The parts of a small valid workbook (heading + one member row) made by xlsxwriter."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet()
    for c, value in enumerate(("姓名", "身份证号", "所在单位", "居住社区")):
        ws.write_string(0, c, value)
    wb.close()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rebuild(parts: dict[str, bytes], extra: list[tuple[str, bytes, int, int, int]] = ()) -> bytes:
    return build_zip([entry(name, data) for name, data in parts.items()] + list(extra))


def zeros_entry(name: str, size: int) -> tuple[str, bytes, int, int, int]:
    """``size`` zero bytes as one deflate stream, built from a repeated full-flush block (fast)."""
    chunk = 1 * MB
    assert size % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # a final empty block
    crc = 0
    zero = b"\0" * chunk
    for _ in range(size // chunk):
        crc = zlib.crc32(zero, crc)
    return (name, block * (size // chunk) + tail, crc, size, 8)


# --- measuring ---------------------------------------------------------------------------


def _peak_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def assert_rejected(path: Path, name: str, code: str, *, fragment: str = "") -> UnsafeFile:
    """Through the whole import entry point: refused with ``code``, ≤ 2 s, < 200 MB, 0 rows."""
    before = Member.objects.count(), ImportJob.objects.count()
    rss_start = _status_kb("VmRSS")
    peak_ok = _peak_reset()
    start = time.monotonic()
    with pytest.raises(UnsafeFile) as info:
        run_import(MemberImporter(user=None), path, name, apply=True)
    elapsed = time.monotonic() - start
    growth_mb = (_status_kb("VmHWM" if peak_ok else "VmRSS") - rss_start) / 1024
    assert info.value.code == code, info.value.message
    assert fragment in info.value.message
    assert elapsed <= 2.0, f"{code}: {elapsed:.2f} s"
    assert growth_mb < 200, f"{code}: {growth_mb:.0f} MB"
    assert (Member.objects.count(), ImportJob.objects.count()) == before
    return info.value


# --- the hostile files -----------------------------------------------------------------


def test_ordinary_workbooks_pass(tmp_path):
    made_by_xlsxwriter = tmp_path / "a.xlsx"
    made_by_xlsxwriter.write_bytes(rebuild(workbook_parts()))
    assert check_file(made_by_xlsxwriter, "a.xlsx") == "xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "身份证号"])
    made_by_openpyxl = tmp_path / "b.xlsx"
    wb.save(made_by_openpyxl)
    assert check_file(made_by_openpyxl, "b.xlsx") == "xlsx"


def test_zip_bomb_is_rejected_before_decompressing(db, tmp_path):
    parts = workbook_parts()
    sheet = "xl/worksheets/sheet1.xml"
    del parts[sheet]
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(rebuild(parts, [zeros_entry(sheet, 1024 * MB)]))
    assert path.stat().st_size < 2 * MB  # 1 GB of zeros in about 1 MB
    error = assert_rejected(path, "bomb.xlsx", "too_large_uncompressed")
    assert "压缩炸弹" in error.message


def test_high_compression_ratio_is_rejected(db, tmp_path):
    parts = workbook_parts()
    sheet = "xl/worksheets/sheet1.xml"
    del parts[sheet]
    path = tmp_path / "ratio.xlsx"
    path.write_bytes(rebuild(parts, [zeros_entry(sheet, 64 * MB)]))
    assert_rejected(path, "ratio.xlsx", "ratio", fragment="100:1")


def test_entry_larger_than_declared_is_rejected(db, tmp_path):
    parts = workbook_parts()
    sheet = "xl/worksheets/sheet1.xml"
    body = parts.pop(sheet)
    padded = body + b"<!-- " + b"x" * (8 * MB) + b" -->"
    name, payload, crc, _size, method = entry(sheet, padded)
    # The header claims the original small size (and its ratio looks harmless).
    path = tmp_path / "liar.xlsx"
    path.write_bytes(rebuild(parts, [(name, payload, crc, len(body), method)]))
    assert_rejected(path, "liar.xlsx", "size_mismatch")


def test_ten_thousand_entries_are_rejected(db, tmp_path):
    extra = [entry(f"xl/media/x{i}.bin", b"") for i in range(10_000)]
    path = tmp_path / "many.xlsx"
    path.write_bytes(rebuild(workbook_parts(), extra))
    assert_rejected(path, "many.xlsx", "too_many_entries", fragment="100")


def test_billion_laughs_shared_strings_are_rejected(db, tmp_path):
    lol = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        b"<si><t>&lol9;</t></si></sst>"
    )
    parts = workbook_parts()
    parts["xl/sharedStrings.xml"] = lol
    path = tmp_path / "lol.xlsx"
    path.write_bytes(rebuild(parts))
    assert_rejected(path, "lol.xlsx", "xml_entities", fragment="XML")


def test_entities_in_content_types_are_refused_by_defusedxml(db, tmp_path):
    parts = workbook_parts()
    parts["[Content_Types].xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
        + parts["[Content_Types].xml"].split(b"?>", 1)[1]
    )
    path = tmp_path / "ct.xlsx"
    path.write_bytes(rebuild(parts))
    assert_rejected(path, "ct.xlsx", "xml_entities")


def test_html_renamed_to_xlsx_is_rejected(db, tmp_path):
    path = tmp_path / "page.xlsx"
    path.write_bytes(b"<html><body><table><tr><td>\xe5\xa7\x93\xe5\x90\x8d</td></tr></table></body></html>")
    assert_rejected(path, "page.xlsx", "not_zip", fragment="不是 Excel 工作簿")


def test_legacy_or_encrypted_workbook_is_rejected(db, tmp_path):
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1000)
    assert_rejected(path, "old.xlsx", "cfb", fragment=".xls")


@pytest.mark.parametrize(
    "bad_name", ["../../x", "xl/../../evil.xml", "/etc/passwd", "C:/x.xml", "xl\\..\\x.xml"]
)
def test_path_traversal_names_are_rejected(db, tmp_path, bad_name):
    path = tmp_path / "trav.xlsx"
    path.write_bytes(rebuild(workbook_parts(), [entry(bad_name, b"x")]))
    assert_rejected(path, "trav.xlsx", "path_traversal", fragment="../")


def test_xlsm_is_rejected_by_name_and_by_content(db, tmp_path):
    path = tmp_path / "macro.xlsm"
    path.write_bytes(rebuild(workbook_parts()))
    assert_rejected(path, "macro.xlsm", "macro_ext", fragment=".xlsm")
    parts = workbook_parts()
    disguised = tmp_path / "macro.xlsx"
    disguised.write_bytes(rebuild(parts, [entry("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 512)]))
    assert_rejected(disguised, "macro.xlsx", "macro", fragment="宏")
    parts["[Content_Types].xml"] = (
        parts["[Content_Types].xml"]
        .replace(b"spreadsheetml.sheet.main+xml", b"sheet.macroEnabled.main+xml")
        .replace(
            b"application/vnd.openxmlformats-officedocument.sheet.macroEnabled",
            b"application/vnd.ms-excel.sheet.macroEnabled",
        )
    )
    typed = tmp_path / "typed.xlsx"
    typed.write_bytes(rebuild(parts))
    assert_rejected(typed, "typed.xlsx", "macro")


def test_other_office_file_renamed_is_rejected(db, tmp_path):
    parts = workbook_parts()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"wordprocessingml.document.main+xml"
    )
    path = tmp_path / "doc.xlsx"
    path.write_bytes(rebuild(parts))
    assert_rejected(path, "doc.xlsx", "not_workbook")


def test_missing_content_types_is_rejected(db, tmp_path):
    parts = workbook_parts()
    del parts["[Content_Types].xml"]
    path = tmp_path / "noct.xlsx"
    path.write_bytes(rebuild(parts))
    assert_rejected(path, "noct.xlsx", "no_content_types")


def test_too_many_rows_is_rejected(db, tmp_path):
    path = tmp_path / "rows.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet()
    for c, heading in enumerate(("姓名", "身份证号", "所在单位", "居住社区")):
        ws.write_string(0, c, heading)
    for r in range(1, MAX_ROWS + 2):
        ws.write_number(r, 0, r)
    wb.close()
    assert_rejected(path, "rows.xlsx", "too_many_rows", fragment="100,000")
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text(
        "姓名,身份证号,所在单位,居住社区\n" + "张三,1,a,b\n" * (MAX_ROWS + 1), encoding="utf-8"
    )
    assert_rejected(csv_path, "rows.csv", "too_many_rows")


def test_size_and_type_limits(db, tmp_path, settings):
    with pytest.raises(UnsafeFile) as info:
        check_upload("名单.xls", 100)
    assert info.value.code == "legacy_xls"
    with pytest.raises(UnsafeFile) as info:
        check_upload("名单.pdf", 100)
    assert info.value.code == "bad_ext" and ".xlsx" in info.value.message
    with pytest.raises(UnsafeFile) as info:
        check_upload("名单.xlsx", 10 * MB + 1)
    assert info.value.code == "too_big" and "10 MB" in info.value.message
    check_upload("名单.xlsx", 10 * MB)
    settings.JINSHEQU_IMPORT_MAX_BYTES = 1000
    path = tmp_path / "big.csv"
    path.write_text("姓名,身份证号\n" * 200, encoding="utf-8")
    assert_rejected(path, "big.csv", "too_big")
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert_rejected(empty, "empty.xlsx", "empty")


def test_csv_checks(db, tmp_path):
    zipped = tmp_path / "book.csv"
    zipped.write_bytes(rebuild(workbook_parts()))
    assert_rejected(zipped, "book.csv", "csv_is_zip", fragment=".xlsx")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xe5\xa7\x93\xe5\x90\x8d,\x00\x01\x02\n")
    assert_rejected(binary, "bin.csv", "csv_binary")
    assert decode_csv("姓名,身份证号".encode("gb18030")) == "姓名,身份证号"
    assert decode_csv("\ufeff姓名".encode()) == "姓名"
    headless = tmp_path / "nohead.csv"
    headless.write_text("a,b\n1,2\n", encoding="utf-8")
    assert_rejected(headless, "nohead.csv", "no_heading")
    missing = tmp_path / "missing.csv"
    missing.write_text("姓名,手机号\n张三,13800000000\n", encoding="utf-8")
    error = assert_rejected(missing, "missing.csv", "missing_columns")
    assert "身份证号" in error.message and "所在单位" in error.message
