"""Safety checks for uploaded spreadsheets (R35), run before any parser sees the file.

``check_upload`` accepts only ``.xlsx`` and ``.csv`` up to ``JINSHEQU_IMPORT_MAX_BYTES``. For
``.xlsx`` the ZIP container is inspected from its central directory first (entry count, names,
declared sizes, compression ratio, macros) and then every entry is decompressed once as a stream,
with its output capped at the declared size, so that a lying header cannot smuggle a bomb past
the declared-size checks and no XML part can carry a DTD or entity declaration (billion laughs).
The small XML parts we parse ourselves go through ``defusedxml``.

Every rejection raises ``UnsafeFile`` with a stable ``code`` and its own Chinese message.
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from django.conf import settings
from django.utils.translation import gettext

MAX_ENTRIES = 100
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_RATIO = 100
# The per-entry ratio is only meaningful for entries big enough to hurt.
RATIO_MIN_ENTRY = 256 * 1024
MAX_ROWS = 100_000
MAX_CONTENT_TYPES_BYTES = 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: legacy .xls or an encrypted workbook
SPREADSHEET_MAIN_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CHUNK = 256 * 1024


class UnsafeFile(Exception):
    """The upload is refused as a whole; ``message`` is shown to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def max_bytes() -> int:
    return int(getattr(settings, "JINSHEQU_IMPORT_MAX_BYTES", 10 * 1024 * 1024))


def check_upload(name: str, size: int) -> str:
    """Check the file name and size; return ``"xlsx"`` or ``"csv"``."""
    suffix = Path(name or "").suffix.lower()
    if suffix in (".xlsm", ".xltm", ".xlam"):
        raise UnsafeFile(
            "macro_ext", gettext("不接受启用宏的工作簿（.xlsm），请在 Excel 中另存为 .xlsx 后再上传。")
        )
    if suffix == ".xls":
        raise UnsafeFile(
            "legacy_xls", gettext("不接受旧版 Excel 文件（.xls），请在 Excel 中另存为 .xlsx 后再上传。")
        )
    if suffix not in (".xlsx", ".csv"):
        raise UnsafeFile("bad_ext", gettext("只接受 .xlsx 或 .csv 文件。"))
    if size <= 0:
        raise UnsafeFile("empty", gettext("文件是空的。"))
    limit = max_bytes()
    if size > limit:
        raise UnsafeFile(
            "too_big",
            gettext("文件超过 %(value)s MB，请拆分后分批导入。") % {"value": limit // (1024 * 1024)},
        )
    return suffix[1:]


def check_file(path: str | Path, name: str) -> str:
    """All checks for a stored upload; return the kind (``"xlsx"`` or ``"csv"``)."""
    path = Path(path)
    kind = check_upload(name, path.stat().st_size)
    with open(path, "rb") as fh:
        if kind == "xlsx":
            check_xlsx(fh)
        else:
            head = fh.read(8)
            if head.startswith(ZIP_MAGIC):
                raise UnsafeFile(
                    "csv_is_zip",
                    gettext("文件内容是 Excel 工作簿而不是 CSV，请把扩展名改为 .xlsx 后再上传。"),
                )
    return kind


# --- xlsx ----------------------------------------------------------------------------


def _eocd_entry_count(fh) -> int | None:
    """Entry count from the end-of-central-directory record, read before ``zipfile`` lists anything."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return None
    (total,) = struct.unpack("<H", tail[pos + 10 : pos + 12])
    return total


def _bad_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    if re.match(r"^[A-Za-z]:", name):
        return True
    return any(part == ".." for part in name.split("/"))


def check_xlsx(fh) -> None:
    """Inspect an ``.xlsx`` file object (seekable, binary). Raises ``UnsafeFile``."""
    fh.seek(0)
    head = fh.read(8)
    if not head:
        raise UnsafeFile("empty", gettext("文件是空的。"))
    if head.startswith(CFB_MAGIC):
        raise UnsafeFile(
            "cfb",
            gettext(
                "这是旧版 Excel（.xls）或设置了打开密码的文件，请在 Excel 中另存为 .xlsx（不设密码）后再上传。"
            ),
        )
    if not head.startswith(ZIP_MAGIC):
        raise UnsafeFile(
            "not_zip",
            gettext(
                "文件内容不是 Excel 工作簿（.xlsx），可能只是改了扩展名，请用 Excel 另存为 .xlsx 后再上传。"
            ),
        )
    count = _eocd_entry_count(fh)
    if count is None:
        raise UnsafeFile("corrupt", gettext("文件已损坏，无法作为 .xlsx 读取。"))
    if count > MAX_ENTRIES:
        raise UnsafeFile(
            "too_many_entries",
            gettext("文件内部条目过多（超过 %(max_entries)s 个），不像正常的 Excel 工作簿，不予接受。")
            % {"max_entries": MAX_ENTRIES},
        )
    fh.seek(0)
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnsafeFile("corrupt", gettext("文件已损坏，无法作为 .xlsx 读取。")) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UnsafeFile(
                "too_many_entries",
                gettext("文件内部条目过多（超过 %(max_entries)s 个），不像正常的 Excel 工作簿，不予接受。")
                % {"max_entries": MAX_ENTRIES},
            )
        names = [info.filename for info in infos]
        if any(_bad_name(n) for n in names):
            raise UnsafeFile(
                "path_traversal", gettext("文件内部含有非法路径（如 ../），可能被篡改，不予接受。")
            )
        if len(set(names)) != len(names):
            raise UnsafeFile("duplicate_entry", gettext("文件内部有重名条目，可能被篡改，不予接受。"))
        if "[Content_Types].xml" not in names:
            raise UnsafeFile(
                "no_content_types", gettext("文件缺少 [Content_Types].xml，不是有效的 Excel 工作簿。")
            )
        for info in infos:
            if info.flag_bits & 0x1:
                raise UnsafeFile("encrypted", gettext("文件内部条目被加密，请取消密码后再上传。"))
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnsafeFile(
                    "compression", gettext("文件使用了不支持的压缩方式，请用 Excel 重新另存为 .xlsx。")
                )
        total = sum(info.file_size for info in infos)
        if total > MAX_UNCOMPRESSED:
            raise UnsafeFile(
                "too_large_uncompressed",
                gettext("文件解压后超过 %(value)s MB（可能是“压缩炸弹”），不予接受。")
                % {"value": MAX_UNCOMPRESSED // (1024 * 1024)},
            )
        packed = sum(info.compress_size for info in infos)
        bomb_entry = any(
            info.file_size >= RATIO_MIN_ENTRY and info.file_size > MAX_RATIO * max(info.compress_size, 1)
            for info in infos
        )
        if bomb_entry or (total >= RATIO_MIN_ENTRY and total > MAX_RATIO * max(packed, 1)):
            raise UnsafeFile(
                "ratio",
                gettext("文件压缩比异常（超过 %(max_ratio)s:1，可能是“压缩炸弹”），不予接受。")
                % {"max_ratio": MAX_RATIO},
            )
        lowered = [n.lower() for n in names]
        if any(n.endswith("vbaproject.bin") or n.endswith(".bin") and "vba" in n for n in lowered):
            raise UnsafeFile("macro", gettext("文件含有宏（VBA 代码），不予接受，请另存为不含宏的 .xlsx。"))
        _check_content_types(zf)
        for info in infos:
            _verify_entry(fh, info)


def _check_content_types(zf: zipfile.ZipFile) -> None:
    info = zf.getinfo("[Content_Types].xml")
    if info.file_size > MAX_CONTENT_TYPES_BYTES:
        raise UnsafeFile(
            "content_types", gettext("文件的 [Content_Types].xml 异常，不是有效的 Excel 工作簿。")
        )
    try:
        data = zf.read(info)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
        raise UnsafeFile("corrupt", gettext("文件已损坏，无法作为 .xlsx 读取。")) from None
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise UnsafeFile(
            "xml_entities", gettext("文件含有 XML 实体或 DTD 声明（可能是“XML 炸弹”），不予接受。")
        ) from None
    except SafeET.ParseError:
        raise UnsafeFile(
            "content_types", gettext("文件的 [Content_Types].xml 无法解析，不是有效的 Excel 工作簿。")
        ) from None
    types = [el.get("ContentType", "") for el in root]
    if any("macroenabled" in t.lower() or "vbaproject" in t.lower() for t in types):
        raise UnsafeFile("macro", gettext("文件含有宏（VBA 代码），不予接受，请另存为不含宏的 .xlsx。"))
    if not any(t in SPREADSHEET_MAIN_TYPES for t in types):
        raise UnsafeFile(
            "not_workbook", gettext("文件不是 Excel 工作簿（可能是改了扩展名的其他 Office 文件）。")
        )


def _verify_entry(fh, info: zipfile.ZipInfo) -> None:
    """Decompress one entry as a stream, never producing more than its declared size (+1 byte),
    and look for DTD or entity declarations in XML parts."""
    fh.seek(info.header_offset)
    local = fh.read(30)
    if len(local) != 30 or not local.startswith(ZIP_MAGIC):
        raise UnsafeFile("corrupt", gettext("文件已损坏，无法作为 .xlsx 读取。"))
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    is_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    left_in = info.compress_size
    declared = info.file_size
    produced = 0
    carry = b""
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None

    def feed(out: bytes) -> None:
        nonlocal produced, carry
        produced += len(out)
        if produced > declared:
            raise UnsafeFile(
                "size_mismatch", gettext("文件内部数据比声明的大（可能是“压缩炸弹”），不予接受。")
            )
        if is_xml and out:
            window = carry + out
            if _DTD_RE.search(window):
                raise UnsafeFile(
                    "xml_entities", gettext("文件含有 XML 实体或 DTD 声明（可能是“XML 炸弹”），不予接受。")
                )
            carry = window[-16:]

    try:
        while left_in > 0:
            chunk = fh.read(min(_CHUNK, left_in))
            if not chunk:
                break
            left_in -= len(chunk)
            if inflater is None:
                feed(chunk)
                continue
            data = chunk
            while True:
                out = inflater.decompress(data, _CHUNK)
                feed(out)
                data = inflater.unconsumed_tail
                # A full output buffer may leave more output pending inside zlib: drain it.
                if inflater.eof or (not data and len(out) < _CHUNK):
                    break
            if inflater.eof:
                break
    except zlib.error:
        raise UnsafeFile("corrupt", gettext("文件已损坏，无法作为 .xlsx 读取。")) from None
    if produced != declared:
        raise UnsafeFile("corrupt", gettext("文件已损坏，无法作为 .xlsx 读取。"))


# --- csv -----------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Chinese Excel writes by default)."""
    if b"\x00" in data:
        raise UnsafeFile("csv_binary", gettext("CSV 文件含有二进制内容，不是有效的文本文件。"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise UnsafeFile(
            "csv_encoding", gettext("无法识别 CSV 文件的编码，请另存为“CSV UTF-8”格式后再上传。")
        ) from None


def iter_csv(path: str | Path) -> Iterator[list[str]]:
    """Rows of a CSV file as lists of strings (the file is at most ``max_bytes()`` long)."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes() + 1)
    if len(data) > max_bytes():
        raise UnsafeFile(
            "too_big",
            gettext("文件超过 %(value)s MB，请拆分后分批导入。") % {"value": max_bytes() // (1024 * 1024)},
        )
    text = decode_csv(data)
    first_line = text[:4096].split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error:
        raise UnsafeFile(
            "csv_format",
            gettext("CSV 文件第 %(line_num)s 行格式错误（引号不配对等），请检查后再上传。")
            % {"line_num": reader.line_num},
        ) from None
