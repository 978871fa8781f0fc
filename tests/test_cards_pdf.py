"""Printed report-in documents: contact cards (batch and single), lost-card reissue, report-in receipts and
the community's report-in poster.

PDFs are checked as a reader would: the text is extracted with ``pdftotext`` (poppler) and must hold the
Chinese words; the QR codes are decoded from a 300 dpi rendering (``pdftoppm`` + zxing-cpp) and must give
back the card's token or the community's report-in URL; the embedded QR images must equal segno's matrix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from unittest import mock
from urllib.parse import unquote

import pytest
import segno
from django.template.loader import render_to_string
from django.urls import reverse

from jinshequ.accounts.models import AuditEvent
from jinshequ.core import pdf as pdfmod
from jinshequ.members import reporting
from jinshequ.members.models import ContactCard, Member, Registration
from tests.factories import make_campaign, make_member
from tests.securitykit import canary_hits, unmasked_runs

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdftoppm"),
    reason="poppler-utils (pdftotext, pdftoppm) are needed to read PDFs",
)


# --- reading PDFs -------------------------------------------------------------------------------------


def pdf_bytes(response) -> bytes:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    data = response.content
    assert data.startswith(b"%PDF-")
    if os.environ.get("JINSHEQU_PDF_DIR"):  # keep the PDFs to look at: JINSHEQU_PDF_DIR=/tmp/pdfs pytest …
        out = Path(os.environ["JINSHEQU_PDF_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        name = unquote(response["Content-Disposition"].split("filename*=UTF-8''")[-1])
        (out / name).write_bytes(data)
    return data


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        return subprocess.run(
            ["pdftotext", "-enc", "UTF-8", f.name, "-"], capture_output=True, check=True, text=True
        ).stdout


def compact(text: str) -> str:
    """Text without whitespace: pdftotext may split a line of CJK with spaces or line breaks."""
    return "".join(text.split())


def pdf_pages(data: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, check=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def decode_qr_codes(data: bytes, *, dpi: int = 300) -> list[str]:
    """Every QR code on every page, decoded from a rendering of the PDF (as a phone camera would)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(dpi), "-gray", str(src), str(Path(tmp) / "page")], check=True
        )
        for png in sorted(Path(tmp).glob("page*.png")):
            with Image.open(png) as image:
                texts += [
                    r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
                ]
    return texts


def embedded_qr_matrices(data: bytes) -> list[list[list[int]]]:
    """The QR images embedded in the PDF (one pixel per module), as 0/1 rows with the quiet zone cut off."""
    from PIL import Image

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(data)
        subprocess.run(["pdfimages", "-png", str(src), str(Path(tmp) / "img")], check=True)
        for png in sorted(Path(tmp).glob("img*.png")):
            with Image.open(png) as image:
                gray = image.convert("L")
                w, h = gray.size
                px = gray.load()
                rows = [[1 if px[x, y] < 128 else 0 for x in range(2, w - 2)] for y in range(2, h - 2)]
            out.append(rows)
    return out


def segno_rows(data: str, *, mask=0) -> list[list[int]]:
    return [list(row) for row in segno.make(data, error="m", micro=False, mask=mask).matrix]


def token_payload(token: str) -> dict:
    from django.core import signing

    return signing.loads(token, salt=reporting.CARD_SALT)


def assert_no_personal_numbers(text: str) -> None:
    assert not canary_hits(text), "an ID number or phone is printed"
    assert not unmasked_runs(text)


def active_card(member) -> ContactCard:
    return ContactCard.objects.get(member=member, is_active=True)


def unit_pdf_url(unit) -> str:
    return reverse("cards:unit_pdf", args=[unit.pk])


# --- the shared PDF helper ------------------------------------------------------------------------------


def test_render_pdf_makes_a_pdf_with_chinese_text(db):
    from types import SimpleNamespace

    community = SimpleNamespace(name="七一社区", address="", office_phone="")
    data = pdfmod.render_pdf(
        "pdf/poster.html", {"community": community, "street": "站前街道", "qr": "", "url": ""}
    )
    assert data.startswith(b"%PDF-")
    text = compact(pdf_text(data))
    assert "七一社区" in text and "在职党员报到二维码" in text


def test_render_pdf_refuses_without_a_cjk_font():
    with (
        mock.patch.object(pdfmod, "cjk_font_available", return_value=False),
        pytest.raises(pdfmod.PdfFontMissing) as exc,
    ):
        pdfmod.render_pdf("pdf/poster.html", {})
    assert str(exc.value) == "缺少中文字体，请安装 fonts-noto-cjk"


def test_cjk_font_is_installed_here():
    assert pdfmod.cjk_font_available()


def test_pdf_fetcher_refuses_network_and_foreign_files():
    assert pdfmod._allowed("data:image/png;base64,AAAA")
    assert not pdfmod._allowed("http://127.0.0.1:8000/admin/")
    assert not pdfmod._allowed("https://example.com/x.png")
    assert not pdfmod._allowed("file:///etc/passwd")
    assert not pdfmod._allowed((pdfmod.STATIC_DIR / ".." / "settings.py").as_uri())


def test_unit_print_without_font_issues_nothing_and_explains(world, login, client):
    login(world.a.users["unit_admin"])
    with (
        mock.patch.object(pdfmod, "cjk_font_available", return_value=False),
        mock.patch("jinshequ.members.views_cards.cjk_font_available", return_value=False),
    ):
        response = client.post(unit_pdf_url(world.a.unit))
    assert response.status_code == 503
    assert "缺少中文字体，请安装 fonts-noto-cjk" in response.content.decode()
    assert not ContactCard.objects.exists()


# --- contact cards in batch ----------------------------------------------------------------------------


def test_unit_cards_pdf_prints_every_member_with_a_scannable_card(world, login, client):
    admin = world.a.users["unit_admin"]
    login(admin)
    response = client.post(unit_pdf_url(world.a.unit))
    data = pdf_bytes(response)
    assert "filename*=UTF-8''" in response["Content-Disposition"]

    cards = {m.pk: active_card(m) for m in world.a.members}
    assert all(c.printed_at is not None for c in cards.values())
    text = pdf_text(data)
    flat = compact(text)
    assert "在职党员进社区联系卡" in flat and "请持卡到居住地社区报到" in flat
    for m in world.a.members:
        assert m.name in flat
        card = cards[m.pk]
        assert f"{card.number[:3]} {card.number[3:6]} {card.number[6:]}" in text
    assert "东风街道东风社区" in flat and "市财政局" in flat
    for m in world.b.members:
        assert m.name not in flat
    assert_no_personal_numbers(text)
    assert not canary_hits(data)

    # The QR codes read back as the cards' signed tokens (number + nonce), which resolve to the cards.
    decoded = decode_qr_codes(data)
    assert sorted((p["c"], p["n"]) for p in map(token_payload, decoded)) == sorted(
        (c.number, c.nonce) for c in cards.values()
    )
    assert {reporting.card_from_scan(t).pk for t in decoded} == {c.pk for c in cards.values()}

    # And the images drawn are exactly segno's matrices for those tokens.
    drawn = embedded_qr_matrices(data)
    assert sorted(map(str, drawn)) == sorted(str(segno_rows(t)) for t in decoded)

    event = AuditEvent.objects.get(event="card.printed")
    assert event.changes["count"] == 3 and event.object_id == str(world.a.unit.pk)
    assert event.actor_id == admin.pk
    assert AuditEvent.objects.filter(event="card.batch_issued").count() == 1


def test_unit_cards_eight_to_a_page(world, login, client):
    for i in range(6):  # 3 + 6 = 9 members: two pages
        make_member(f"测试{i}号", world.a.unit, world.a.community)
    login(world.a.users["unit_admin"])
    data = pdf_bytes(client.post(unit_pdf_url(world.a.unit)))
    assert pdf_pages(data) == 2


def test_only_unprinted_cards_are_printed_again(world, login, client):
    login(world.a.users["unit_admin"])
    pdf_bytes(client.post(unit_pdf_url(world.a.unit)))
    first = {m.pk: active_card(m).number for m in world.a.members}

    response = client.post(unit_pdf_url(world.a.unit), {"only": "unprinted"})
    assert response.status_code == 302  # nothing left to print
    assert AuditEvent.objects.filter(event="card.printed").count() == 1

    newcomer = make_member("新党员", world.a.unit, world.a.community)
    flat = compact(pdf_text(pdf_bytes(client.post(unit_pdf_url(world.a.unit), {"only": "unprinted"}))))
    assert "新党员" in flat and not any(m.name in flat for m in world.a.members)

    flat = compact(pdf_text(pdf_bytes(client.post(unit_pdf_url(world.a.unit), {"only": "all"}))))
    assert all(m.name in flat for m in [*world.a.members, newcomer])
    # Printing again never changes a card: same numbers, same tokens.
    assert {m.pk: active_card(m).number for m in world.a.members} == first


def test_sub_units_are_included_on_request(world, login, client):
    from tests.factories import make_unit

    sub = make_unit("市财政局国库科", region=world.a.district, parent=world.a.unit)
    make_member("下级党员", sub, world.a.community)
    login(world.a.users["unit_admin"])
    without = compact(pdf_text(pdf_bytes(client.post(unit_pdf_url(world.a.unit), {"only": "all"}))))
    with_sub = compact(
        pdf_text(pdf_bytes(client.post(unit_pdf_url(world.a.unit), {"only": "all", "sub": "1"})))
    )
    assert "下级党员" not in without and "下级党员" in with_sub
    # The sub-unit on its own is in the unit admin's scope too.
    assert "下级党员" in compact(pdf_text(pdf_bytes(client.post(unit_pdf_url(sub), {"only": "all"}))))


def test_left_members_get_no_card(world, login, client):
    from jinshequ.members.services import member_mark_left

    gone = world.a.members[2]
    member_mark_left(member=gone, actor=None)
    login(world.a.users["unit_admin"])
    flat = compact(pdf_text(pdf_bytes(client.post(unit_pdf_url(world.a.unit)))))
    assert gone.name not in flat
    assert not ContactCard.objects.filter(member=gone).exists()


def test_other_units_cards_are_404_and_nothing_is_issued(world, login, client):
    login(world.a.users["unit_admin"])
    assert client.post(unit_pdf_url(world.b.unit)).status_code == 404
    assert client.get(reverse("cards:unit"), {"unit": world.b.unit.pk}).status_code == 404
    other = world.b.members[0]
    assert client.post(reverse("cards:member_pdf", args=[other.pk])).status_code == 404
    assert client.post(reverse("cards:reissue", args=[other.pk])).status_code == 404
    assert client.post(reverse("cards:unit_pdf", args=[999999])).status_code == 404
    assert not ContactCard.objects.exists()
    assert not AuditEvent.objects.filter(event__startswith="card.").exists()


@pytest.mark.parametrize("role", ["community_admin", "inspector", "member", "district_admin", "street_admin"])
def test_card_printing_is_for_unit_admins(world, login, client, role):
    login(world.a.users[role])
    assert client.get(reverse("cards:unit")).status_code == 403
    assert client.post(unit_pdf_url(world.a.unit)).status_code == 403
    assert client.post(reverse("cards:reissue", args=[world.a.members[0].pk])).status_code == 403
    assert not ContactCard.objects.exists()


def test_printing_is_a_post(world, login, client):
    login(world.a.users["unit_admin"])
    assert client.get(unit_pdf_url(world.a.unit)).status_code == 405
    assert client.get(reverse("cards:member_pdf", args=[world.a.members[0].pk])).status_code == 405
    assert client.get(reverse("cards:reissue", args=[world.a.members[0].pk])).status_code == 405
    assert not ContactCard.objects.exists()


def test_anonymous_is_sent_to_login(world, client):
    response = client.get(reverse("cards:unit"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(unit_pdf_url(world.a.unit))
    assert response.status_code in (302, 403)
    assert not ContactCard.objects.exists()


def test_city_admin_prints_any_unit(world, login, client):
    login(world.city_admin)
    page = client.get(reverse("cards:unit"), {"unit": world.b.unit.pk})
    assert page.status_code == 200 and "将打印 3 张联系卡" in page.content.decode()
    flat = compact(pdf_text(pdf_bytes(client.post(unit_pdf_url(world.b.unit)))))
    assert all(m.name in flat for m in world.b.members)


def test_choose_page_counts_and_defaults_to_own_unit(world, login, client):
    login(world.a.users["unit_admin"])
    body = client.get(reverse("cards:unit")).content.decode()
    assert "市财政局" in body and "市教育局" not in body
    assert "将打印 3 张联系卡" in body
    assert reverse("cards:unit_pdf", args=[world.a.unit.pk]) in body
    assert not ContactCard.objects.exists()  # looking does not issue anything
    pdf_bytes(client.post(unit_pdf_url(world.a.unit)))
    body = client.get(reverse("cards:unit")).content.decode()
    assert "都已打印过" in body
    body = client.get(reverse("cards:unit"), {"only": "all"}).content.decode()
    assert "将打印 3 张联系卡" in body


def test_unit_pdf_query_count_does_not_grow_with_members(world, login, client, django_assert_max_num_queries):
    login(world.a.users["unit_admin"])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        pdf_bytes(client.post(unit_pdf_url(world.a.unit), {"only": "all"}))
    for i in range(20):
        make_member(f"批量{i}", world.a.unit, world.a.community)
    with CaptureQueriesContext(connection) as large:
        pdf_bytes(client.post(unit_pdf_url(world.a.unit), {"only": "all"}))
    assert len(large.captured_queries) <= len(small.captured_queries) + 2  # + the batch insert of new cards


# --- one card, reissue ----------------------------------------------------------------------------------


def test_single_card_pdf_issues_the_first_card(world, login, client):
    member = world.a.members[1]
    login(world.a.users["unit_admin"])
    data = pdf_bytes(client.post(reverse("cards:member_pdf", args=[member.pk])))
    card = active_card(member)
    assert card.printed_at is not None
    flat = compact(pdf_text(data))
    assert member.name in flat and "联系卡" in flat and card.number in flat
    assert not any(m.name in flat for m in world.a.members if m.pk != member.pk)
    [token] = decode_qr_codes(data)
    assert token_payload(token) == {"c": card.number, "n": card.nonce}
    assert pdf_pages(data) == 1
    assert AuditEvent.objects.get(event="card.printed").changes == {"count": 1}


def test_reissue_revokes_the_old_card(world, login, client):
    member = world.a.members[0]
    old = reporting.card_issue(member=member, actor=None)
    old_token = reporting.card_token(old)
    login(world.a.users["unit_admin"])
    response = client.post(reverse("cards:reissue", args=[member.pk]))
    assert response.status_code == 302 and response["Location"].endswith(f"/members/{member.pk}/#card-panel")

    old.refresh_from_db()
    assert not old.is_active and old.revoke_reason == "挂失补办" and old.revoked_at is not None
    new = active_card(member)
    assert new.number != old.number
    with pytest.raises(reporting.ReportingError) as exc:
        reporting.card_from_scan(old_token)
    assert exc.value.code == "revoked_card"
    with pytest.raises(reporting.ReportingError):
        reporting.card_from_scan(old.number)
    assert reporting.card_from_scan(reporting.card_token(new)) == new
    assert AuditEvent.objects.filter(event="card.revoked", object_id=str(old.pk)).count() == 1

    # The new card prints with the new number and token.
    data = pdf_bytes(client.post(reverse("cards:member_pdf", args=[member.pk])))
    assert new.number in compact(pdf_text(data)) and old.number not in compact(pdf_text(data))
    [token] = decode_qr_codes(data)
    assert reporting.card_from_scan(token) == new


def test_reissue_of_a_member_who_left_is_refused(world, login, client):
    from jinshequ.members.services import member_mark_left

    member = world.a.members[0]
    member_mark_left(member=member, actor=None)
    login(world.a.users["unit_admin"])
    assert client.post(reverse("cards:reissue", args=[member.pk])).status_code == 404
    assert not ContactCard.objects.filter(member=member, is_active=True).exists()


def test_card_panel_shows_card_history_and_actions(world):
    member = world.a.members[0]
    old = reporting.card_issue(member=member, actor=None)
    new = reporting.card_issue(member=member, actor=None, reason="挂失补办")
    html = render_to_string(
        "members/_card_panel.html", {"member": member, "can": {"card_manage": True, "roster_view": True}}
    )
    assert f"{new.number[:3]} {new.number[3:6]} {new.number[6:]}" in html
    assert f"原卡 {old.number} 已于" in html and "挂失补办" in html
    assert reverse("cards:reissue", args=[member.pk]) in html and "data-confirm" in html
    assert reverse("cards:member_pdf", args=[member.pk]) in html
    readonly = render_to_string("members/_card_panel.html", {"member": member, "can": {}})
    assert reverse("cards:reissue", args=[member.pk]) not in readonly
    assert "style=" not in html and "<script" not in html  # CSP


# --- report-in receipts ---------------------------------------------------------------------------------


def _confirm(world, side, member) -> Registration:
    reg = reporting.registration_submit(member=member, community=side.community, actor=None)
    return reporting.registration_confirm(registration=reg, actor=side.users["community_admin"])


@pytest.fixture
def reported(world):
    make_campaign()
    return [_confirm(world, world.a, m) for m in world.a.members[:2]]


def test_member_receipt_pdf(world, login, client, reported):
    reg = reported[0]
    member = reg.member
    login(world.a.users["unit_admin"])
    data = pdf_bytes(client.get(reverse("cards:receipt_pdf", args=[member.pk])))
    text = pdf_text(data)
    flat = compact(text)
    for word in (
        "在职党员进社区报到回执",
        member.name,
        "市财政局",
        "东风街道东风社区",
        f"No.{reg.pk:06d}",
        "东风社区党组织（盖章）",
        "经办人（签字）",
        reg.confirmed_on.strftime("%Y-%m-%d"),
    ):
        assert word in flat, word
    assert_no_personal_numbers(text)
    assert AuditEvent.objects.filter(event="receipt.printed", object_id=str(member.pk)).count() == 1


def test_receipt_of_a_member_not_reported_explains(world, login, client, reported):
    login(world.a.users["unit_admin"])
    response = client.get(reverse("cards:receipt_pdf", args=[world.a.members[2].pk]))
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(event="receipt.printed").exists()


def test_unit_receipts_pdf_lists_reported_members_only(world, login, client, reported):
    login(world.a.users["unit_admin"])
    url = reverse("cards:receipts_unit_pdf", args=[world.a.unit.pk])
    data = pdf_bytes(client.get(url, {"status": "reported"}))
    text = pdf_text(data)
    flat = compact(text)
    assert flat.count("在职党员进社区报到回执") >= 2
    for reg in reported:
        assert reg.member.name in flat and f"No.{reg.pk:06d}" in flat
    assert world.a.members[2].name not in flat
    assert_no_personal_numbers(text)
    assert pdf_pages(data) == 1
    assert client.get(url, {"status": "pending"}).status_code == 404
    event = AuditEvent.objects.get(event="receipt.printed")
    assert event.changes["count"] == 2


def test_receipts_choose_page(world, login, client, reported):
    login(world.a.users["unit_admin"])
    body = client.get(reverse("cards:receipts")).content.decode()
    assert "已报到党员 2 名" in body
    assert reverse("cards:receipts_unit_pdf", args=[world.a.unit.pk]) in body


@pytest.mark.parametrize(
    "role,side,unit_status,member_status",
    [
        ("unit_admin", "b", 404, 404),
        ("district_admin", "a", 200, 200),
        ("district_admin", "b", 404, 404),
        # the unit is registered at district level, outside the street; its member lives in the street
        ("street_admin", "a", 404, 200),
        ("street_admin", "b", 404, 404),
        ("inspector", "a", 200, 200),
        ("inspector", "b", 404, 404),
        ("community_admin", "a", 403, 403),
        ("member", "a", 403, 403),
    ],
)
def test_receipt_scope(world, login, client, reported, role, side, unit_status, member_status):
    user = getattr(world, side).users[role]
    login(user)
    assert client.get(reverse("cards:receipts_unit_pdf", args=[world.a.unit.pk])).status_code == unit_status
    assert client.get(reverse("cards:receipt_pdf", args=[reported[0].member.pk])).status_code == member_status
    printed = AuditEvent.objects.filter(event="receipt.printed", actor=user).count()
    assert printed == (unit_status == 200) + (member_status == 200)


def test_city_admin_prints_receipts(world, login, client, reported):
    login(world.city_admin)
    flat = compact(
        pdf_text(pdf_bytes(client.get(reverse("cards:receipts_unit_pdf", args=[world.a.unit.pk]))))
    )
    assert reported[0].member.name in flat


# --- the community's report-in poster -------------------------------------------------------------------


def test_poster_pdf_for_the_community_admin(world, login, client):
    from jinshequ.regions.models import Region

    Region.objects.filter(pk=world.a.community.pk).update(
        address="东风路 18 号社区服务中心", office_phone="0414-2812345"
    )
    community = Region.objects.get(pk=world.a.community.pk)
    login(world.a.users["community_admin"])
    data = pdf_bytes(client.get(reverse("cards:poster_pdf", args=[community.pk])))
    text = pdf_text(data)
    flat = compact(text)
    for word in (
        "东风社区",
        "东风街道",
        "在职党员报到二维码",
        "登录",
        "扫码",
        "确认",
        "东风路18号社区服务中心",
        "0414-2812345",
    ):
        assert word in flat, word
    assert_no_personal_numbers(text)
    [url] = decode_qr_codes(data, dpi=100)
    token = url.rstrip("/").rsplit("/", 1)[-1]
    assert url == reporting.site_url(reverse("report:qr", args=[token]))
    assert reporting.community_from_token(token) == community


@pytest.mark.parametrize(
    "role,side,status",
    [
        ("community_admin", "b", 404),
        ("street_admin", "a", 200),
        ("street_admin", "b", 404),
        ("district_admin", "a", 200),
        ("district_admin", "b", 404),
        ("inspector", "a", 403),
        ("unit_admin", "a", 403),
        ("member", "a", 403),
    ],
)
def test_poster_scope(world, login, client, role, side, status):
    login(getattr(world, side).users[role])
    assert client.get(reverse("cards:poster_pdf", args=[world.a.community.pk])).status_code == status


def test_poster_only_for_communities(world, login, client):
    login(world.a.users["district_admin"])
    assert client.get(reverse("cards:poster_pdf", args=[world.a.street.pk])).status_code == 404
    login(world.city_admin)
    assert client.get(reverse("cards:poster_pdf", args=[world.b.community.pk])).status_code == 200


# --- no personal numbers anywhere on paper ---------------------------------------------------------------


def test_no_canary_in_any_printed_document(world, login, client, reported):
    login(world.a.users["unit_admin"])
    documents = [
        client.post(unit_pdf_url(world.a.unit), {"only": "all"}),
        client.post(reverse("cards:member_pdf", args=[world.a.members[0].pk])),
        client.get(reverse("cards:receipt_pdf", args=[world.a.members[0].pk])),
        client.get(reverse("cards:receipts_unit_pdf", args=[world.a.unit.pk])),
    ]
    login(world.a.users["community_admin"])
    documents.append(client.get(reverse("cards:poster_pdf", args=[world.a.community.pk])))
    for response in documents:
        data = pdf_bytes(response)
        assert not canary_hits(data)
        text = pdf_text(data)
        assert_no_personal_numbers(text)
        for m in Member.objects.all():
            assert m.id_number_masked not in text and (not m.phone_masked or m.phone_masked not in text)
