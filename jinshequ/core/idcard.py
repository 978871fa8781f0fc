"""Chinese resident ID numbers (GB 11643-1999) and mobile phone numbers: validation and masking."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# ASCII digits only ("\d" would also accept full-width and other Unicode digits); anchored with
# \Z so that ``match`` and ``fullmatch`` agree ("$" would accept a trailing newline).
ID_RE = re.compile(r"^[0-9]{17}[0-9X]\Z")
PHONE_RE = re.compile(r"^1[3-9][0-9]{9}\Z")


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    """Full-width characters (from Chinese input methods) become ASCII; spaces go; x becomes X."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", value or "")).upper()


def id_birth_date(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def id_gender(id_number: str) -> str:
    """``"M"`` or ``"F"`` from the sequence digit (odd = male)."""
    return "M" if int(id_number[16]) % 2 else "F"


def validate_id_number(value: str) -> str:
    """Return the normalised number or raise ``ValidationError`` with a Chinese reason."""
    number = normalize_id_number(value)
    if not number:
        raise ValidationError(gettext("请填写身份证号。"), code="required")
    if len(number) != 18:
        raise ValidationError(
            gettext("身份证号应为 18 位，当前为 %(len)s 位。") % {"len": len(number)}, code="id_length"
        )
    if not ID_RE.fullmatch(number):
        raise ValidationError(gettext("身份证号只能由数字组成，最后一位可以是 X。"), code="id_chars")
    try:
        born = id_birth_date(number)
    except ValueError:
        raise ValidationError(gettext("身份证号中的出生日期不存在。"), code="id_date") from None
    if born.year < 1900 or born > timezone.localdate():  # today in Shanghai, not on the server's clock
        raise ValidationError(gettext("身份证号中的出生日期不合理。"), code="id_date")
    if check_char(number[:17]) != number[17]:
        raise ValidationError(gettext("身份证号校验位不正确，请核对是否输错。"), code="id_checksum")
    return number


def normalize_phone(value: str) -> str:
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", value or ""))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits


def validate_phone(value: str) -> str:
    phone = normalize_phone(value)
    if not phone:
        raise ValidationError(gettext("请填写手机号。"), code="required")
    if not PHONE_RE.fullmatch(phone):
        raise ValidationError(gettext("手机号应为 11 位数字，以 13–19 开头。"), code="phone_format")
    return phone


def mask_id_number(number: str) -> str:
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}" if len(number) > 8 else "*" * len(number)


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "*" * len(phone)


def make_id_number(rng, *, area: str, birth: dt.date, male: bool) -> str:
    """A valid 18-digit number for demo data and tests (``rng`` is a ``random.Random``)."""
    seq = rng.randrange(0, 99)
    sex = rng.choice((1, 3, 5, 7, 9)) if male else rng.choice((0, 2, 4, 6, 8))
    first17 = f"{area}{birth:%Y%m%d}{seq:02d}{sex}"
    return first17 + check_char(first17)


def make_phone(rng) -> str:
    prefix = rng.choice(
        (
            "130",
            "131",
            "132",
            "135",
            "136",
            "137",
            "138",
            "139",
            "150",
            "151",
            "152",
            "155",
            "156",
            "158",
            "159",
            "166",
            "177",
            "180",
            "181",
            "185",
            "186",
            "187",
            "188",
            "189",
            "199",
        )
    )
    return f"{prefix}{rng.randrange(0, 10**8):08d}"
