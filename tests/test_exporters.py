"""The export base: sheet names Excel accepts whatever a unit or community is called, every cell a value, and
an exporter yields exactly its queryset's rows."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from jinshequ.core.exporters import REGISTRY, Exporter, register
from jinshequ.core.exports import safe_sheet_name, write_xlsx


@pytest.mark.parametrize(
    "title", ["平山区/站前[街道]", "a:b*c?d\\e", "'引号'", "x" * 40, "History", "", "  "]
)
def test_any_title_makes_a_sheet_excel_opens(title):
    buffer = io.BytesIO()
    write_xlsx(buffer, title, ["姓名"], [["张三"]])
    buffer.seek(0)
    sheet = load_workbook(buffer).worksheets[0]
    assert sheet.title == safe_sheet_name(title)
    assert 0 < len(sheet.title) <= 31 and not set(sheet.title) & set("[]:*?/\\")
    assert sheet["A2"].value == "张三"


def test_a_plain_title_stays_as_it_is():
    assert safe_sheet_name("平山区站前街道幸福社区登记台账") == "平山区站前街道幸福社区登记台账"


class _Rows(Exporter):
    name = "tests.rows"
    title = "测试=导出"
    headers = ("值", "公式")

    def __init__(self, values, **kwargs):
        super().__init__(user=None, queryset=_List(values), **kwargs)
        self.audited = []

    def row(self, obj):
        return [obj, f"=SUM({obj})"]

    def audit(self, count):
        self.audited.append(count)


class _List(list):
    def iterator(self, chunk_size):
        return iter(self)

    def count(self):
        return len(self)


def test_an_exporter_writes_its_rows_as_values_and_audits_the_count():
    exporter = _Rows([1, 2, 3])
    response = exporter.response()
    assert exporter.audited == [3]
    assert response["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows == [("值", "公式"), (1, "=SUM(1)"), (2, "=SUM(2)"), (3, "=SUM(3)")]
    assert all(cell.data_type != "f" for row in book.worksheets[0].iter_rows() for cell in row)


def test_register_refuses_a_second_exporter_under_the_same_name():
    register(_Rows)
    assert REGISTRY["tests.rows"] is _Rows

    class Other(_Rows):
        name = "tests.rows"

    with pytest.raises(ValueError):
        register(Other)
    with pytest.raises(TypeError):  # an exporter must say how it is audited
        type("NoAudit", (Exporter,), {"row": lambda s, o: []})(user=None)
