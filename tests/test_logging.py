"""R23: no ID number or phone in log records, at any level, from the requests that handle them;
and the masking filter catches what would slip through."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from jinshequ.core.logging import MaskSensitiveFilter, mask_text
from tests.factories import PASSWORD, new_id_number, new_phone
from tests.securitykit import canary_hits

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class CaptureAll(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter or a structured handler could write out."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a malformed record: keep its raw parts
        parts = [str(record.msg)]
    parts.append(repr(record.args))
    parts += [repr(v) for k, v in vars(record).items() if k not in _STANDARD]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    parts.append(record.exc_text or "")
    return "\n".join(parts)


@pytest.fixture
def captured():
    """Every logger at DEBUG, one handler on the root logger catching everything."""
    handler = CaptureAll()
    root = logging.getLogger()
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    saved_root = root.level
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.propagate, lg.disabled = True, False
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled


def test_requests_handling_personal_data_log_none_of_it(world, captured):
    member = world.a.members[0]
    member.user.phone_hash = member.phone_hash
    member.user.save(update_fields=["phone_hash"])
    phone = member.reveal_phone()

    anon = Client()
    anon.post("/accounts/login/", {"username": phone, "password": "Wrong-Passw0rd!"})  # failure by phone
    anon.post("/accounts/login/", {"username": new_phone(), "password": "Wrong-Passw0rd!"})  # unknown phone

    admin = Client()
    admin.post("/accounts/login/", {"username": "community_a", "password": PASSWORD})
    created = admin.post(
        "/members/new/",
        {
            "name": "孙八",
            "id_number": new_id_number(),
            "phone": new_phone(),
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    assert created.status_code == 302
    duplicate = admin.post(
        "/members/new/",
        {
            "name": "孙八",
            "id_number": member.reveal_id_number(),
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    assert duplicate.status_code == 200
    bad = admin.post(
        "/members/new/",
        {
            "name": "孙九",
            "id_number": member.reveal_id_number()[:17] + "0",
            "phone": "1" + phone,
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    assert bad.status_code == 200
    revealed = admin.post(f"/members/{member.pk}/reveal/", {"field": "id_number", "reason": "核对报到信息"})
    assert member.reveal_id_number() in revealed.content.decode()
    other = world.b.members[0]
    assert admin.post(f"/members/{other.pk}/reveal/", {"field": "phone", "reason": "越权"}).status_code == 404
    admin.get("/members/", {"q": member.id_tail})

    # The capture works: Django's request logger reported the 404 at WARNING.
    assert any(r.name == "django.request" and r.levelno == logging.WARNING for r in captured.records)

    leaks = {r.name: canary_hits(record_text(r)) for r in captured.records if canary_hits(record_text(r))}
    assert leaks == {}


def test_the_capture_would_see_a_leak(captured):
    phone = new_phone()
    logging.getLogger("jinshequ.probe").debug("calling %s", phone)
    assert any(canary_hits(record_text(r)) == {phone} for r in captured.records)


def test_missing_template_variables_do_not_log_the_context(captured):
    from django.template import Context, Template

    number = new_id_number()
    Template("{{ revealed.id_number }} {% if no_such_thing.attr %}x{% endif %}").render(
        Context({"revealed": {"id_number": number}})
    )
    assert not any(canary_hits(record_text(r)) for r in captured.records)


def _filtered(record: logging.LogRecord) -> logging.LogRecord:
    assert MaskSensitiveFilter().filter(record) is True
    return record


def test_mask_filter_masks_message_args_extras_and_tracebacks():
    phone, number = new_phone(), new_id_number()
    record = logging.LogRecord(
        "jinshequ.x", logging.INFO, __file__, 1, "member %s phone %s", (number, phone), None
    )
    record.lookup = f"phone={phone}"
    _filtered(record)
    text = record_text(record)
    assert phone not in text and number not in text
    assert f"{number[:4]}**********{number[-4:]}" in record.getMessage()

    try:
        raise ValueError(f"bad value {number}")
    except ValueError:
        import sys

        record = logging.LogRecord("jinshequ.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    _filtered(record)
    formatted = logging.Formatter().format(record)
    assert number not in formatted and "ValueError" in formatted


def test_mask_text_leaves_other_numbers_alone():
    assert (
        mask_text("订单 20261124 共 12 人，电话 0414-2825555") == "订单 20261124 共 12 人，电话 0414-2825555"
    )
    assert mask_text("13812345678") == "138****5678"
    assert mask_text("21050219800101123X") == "2105**********123X"
