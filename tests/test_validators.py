"""R34: server-side validation of ID numbers (GB 11643 checksum, real dates) and phones, with Chinese
messages that name the field and the reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jinshequ.core.idcard import (
    check_char,
    id_birth_date,
    id_gender,
    mask_id_number,
    mask_phone,
    normalize_phone,
    validate_id_number,
    validate_phone,
)

PROFILE = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
TODAY = timezone.localdate()  # Shanghai's date, as the validator reads it

areas = st.from_regex(r"[1-8][0-9]{5}", fullmatch=True)
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


@st.composite
def valid_ids(draw) -> str:
    first17 = f"{draw(areas)}{draw(births):%Y%m%d}{draw(sequences):03d}"
    return first17 + check_char(first17)


def reason(value: str, validator=validate_id_number) -> str:
    with pytest.raises(ValidationError) as info:
        validator(value)
    return info.value.messages[0]


@PROFILE
@given(valid_ids())
def test_every_valid_id_number_is_accepted(number):
    assert validate_id_number(number) == number
    assert validate_id_number(number.lower()) == number  # a lower-case x is normalised
    assert validate_id_number(f" {number[:6]} {number[6:14]} {number[14:]} ") == number
    assert id_birth_date(number) <= TODAY
    assert id_gender(number) in ("M", "F")


@PROFILE
@given(valid_ids(), st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_every_single_character_mutation_is_rejected(number, position, shift):
    alphabet = "0123456789X" if position == 17 else "0123456789"
    current = alphabet.index(number[position])
    replacement = alphabet[(current + shift) % len(alphabet)]
    assume(replacement != number[position])
    mutated = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(ValidationError):
        validate_id_number(mutated)


@PROFILE
@given(valid_ids(), st.integers(min_value=0, max_value=16))
def test_transpositions_that_change_the_checksum_are_rejected(number, position):
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assume(swapped != number)
    if "X" in swapped[:17] or check_char(swapped[:17]) != swapped[17]:
        with pytest.raises(ValidationError):
            validate_id_number(swapped)


def _with_checksum(first17: str) -> str:
    return first17 + check_char(first17)


@PROFILE
@given(
    areas,
    st.integers(min_value=1900, max_value=2020),
    st.sampled_from(
        [(2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, 1), (0, 10), (5, 0), (5, 32), (99, 99)]
    ),
    sequences,
)
def test_impossible_dates_are_rejected_even_with_a_good_checksum(area, year, month_day, seq):
    month, day = month_day
    number = _with_checksum(f"{area}{year:04d}{month:02d}{day:02d}{seq:03d}")
    assert reason(number) == "身份证号中的出生日期不存在。"


@PROFILE
@given(
    areas,
    st.integers(min_value=1901, max_value=2099).filter(lambda y: y % 4 or (y % 100 == 0 and y % 400)),
    sequences,
)
def test_february_29_only_in_leap_years(area, year, seq):
    assert reason(_with_checksum(f"{area}{year:04d}0229{seq:03d}")) == "身份证号中的出生日期不存在。"


@pytest.mark.parametrize("birth", [TODAY + dt.timedelta(days=1), dt.date(1899, 12, 31), dt.date(1800, 1, 1)])
def test_implausible_dates_are_rejected(birth):
    assert reason(_with_checksum(f"210502{birth:%Y%m%d}123")) == "身份证号中的出生日期不合理。"


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "请填写身份证号。"),
        ("21050219800101123", "身份证号应为 18 位，当前为 17 位。"),
        ("2105021980010112345", "身份证号应为 18 位，当前为 19 位。"),
        ("21050219800101123Y", "身份证号只能由数字组成，最后一位可以是 X。"),
        ("2105021980X1011234", "身份证号只能由数字组成，最后一位可以是 X。"),
        ("２１０５０２１９８００１０１１２３Ｘ", None),  # full-width input is normalised first
        ("٢١٠٥٠٢١٩٨٠٠١٠١١٢٣٤", "身份证号只能由数字组成，最后一位可以是 X。"),  # other scripts' digits: no
    ],
)
def test_id_number_messages_name_the_field_and_reason(value, message):
    if message is None:
        with pytest.raises(ValidationError) as info:
            validate_id_number(value)
        assert "校验位" in info.value.messages[0] or "日期" in info.value.messages[0]
        return
    assert reason(value) == message
    assert "身份证号" in message


def test_checksum_message():
    number = _with_checksum("210502198001011234"[:17])
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert reason(wrong) == "身份证号校验位不正确，请核对是否输错。"


# --- phones -------------------------------------------------------------------------------

phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@PROFILE
@given(phones)
def test_every_valid_phone_is_accepted_in_common_spellings(phone):
    assert validate_phone(phone) == phone
    assert validate_phone(f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}") == phone
    assert validate_phone(f"{phone[:3]}-{phone[3:7]}-{phone[7:]}") == phone
    assert validate_phone(f"0086{phone}") == phone
    full_width = phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert validate_phone(full_width) == phone
    assert mask_phone(phone) == f"{phone[:3]}****{phone[7:]}"


@PROFILE
@given(
    st.one_of(
        st.from_regex(r"1[3-9][0-9]{8}", fullmatch=True),  # 10 digits
        st.from_regex(r"1[3-9][0-9]{10}", fullmatch=True),  # 12 digits
        st.from_regex(r"1[0-2][0-9]{9}", fullmatch=True),  # no such prefix
        st.from_regex(r"[02-9][0-9]{10}", fullmatch=True),  # does not start with 1
        st.from_regex(r"1[3-9][0-9]{4}[a-zA-Z][0-9]{4}", fullmatch=True),
    )
)
def test_malformed_phones_are_rejected_with_a_message_naming_the_field(value):
    assert reason(value, validate_phone) == "手机号应为 11 位数字，以 13–19 开头。"


def test_phone_required_message_and_trailing_newline():
    assert reason("", validate_phone) == "请填写手机号。"
    assert validate_phone("1381234567\n8") == "13812345678"  # whitespace anywhere is dropped
    assert normalize_phone("13812345678\n") == "13812345678"
    with pytest.raises(ValidationError):
        validate_phone("138123456789\n")


def test_masks():
    assert mask_id_number("210502198001011234") == "2105**********1234"
    assert mask_phone("13812345678") == "138****5678"


# --- the member form names each field in its messages ------------------------------------


def test_member_form_messages_per_field(world):
    from jinshequ.members.forms import MemberForm

    number = _with_checksum("21050219800101123")
    form = MemberForm(
        {
            "name": "",
            "id_number": number[:17] + ("0" if number[17] != "0" else "1"),
            "phone": "12345",
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
            "birth_date": "1990-01-01",
            "gender": "F",
        },
        user=world.city_admin,
    )
    assert not form.is_valid()
    assert form.errors["id_number"] == ["身份证号校验位不正确，请核对是否输错。"]
    assert form.errors["phone"] == ["手机号应为 11 位数字，以 13–19 开头。"]
    assert "name" in form.errors
    form = MemberForm(
        {
            "name": "甲",
            "id_number": number,
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
            "birth_date": "1990-01-01",
            "gender": "F" if id_gender(number) == "M" else "M",
        },
        user=world.city_admin,
    )
    assert not form.is_valid()
    assert form.errors["birth_date"] == ["出生日期与身份证号不一致（身份证号为 1980-01-01）。"]
    assert form.errors["gender"] == ["性别与身份证号不一致。"]
