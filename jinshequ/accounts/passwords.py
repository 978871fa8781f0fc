"""Password policy (R01): length (staff ≥ 10, members ≥ 8), 3 of 4 character classes, not common,
not similar to the username, name or phone; long passwords (up to 256 characters) accepted
without truncation (PBKDF2 hashes the whole string).

The composition rule and staff expiry deviate from ASVS 6.2.5/6.2.10 on purpose: 等保 2.0
8.1.4.1 a) requires them and is what this system is assessed against (SECURITY.md).
"""

from __future__ import annotations

import re

from django.contrib.auth import password_validation as pv
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

MIN_LENGTH_MEMBER = 8
MIN_LENGTH_STAFF = 10
MAX_LENGTH = 256


def min_length_for(user) -> int:
    return (
        MIN_LENGTH_STAFF if user is not None and getattr(user, "is_staff_role", False) else MIN_LENGTH_MEMBER
    )


class LengthValidator:
    def validate(self, password, user=None):
        minimum = min_length_for(user)
        if len(password) < minimum:
            raise ValidationError(
                gettext("密码太短：至少需要 %(minimum)s 个字符。") % {"minimum": minimum},
                code="password_too_short",
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                gettext("密码太长：最多 %(max_length)s 个字符。") % {"max_length": MAX_LENGTH},
                code="password_too_long",
            )

    def get_help_text(self):
        return gettext(
            "至少 %(min_length_member)s 个字符（管理人员至少 %(min_length_staff)s 个），最多 %(max_length)s 个。"
        ) % {
            "min_length_member": MIN_LENGTH_MEMBER,
            "min_length_staff": MIN_LENGTH_STAFF,
            "max_length": MAX_LENGTH,
        }


class CharacterClassValidator:
    CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")

    def validate(self, password, user=None):
        if sum(1 for rx in self.CLASSES if re.search(rx, password)) < 3:
            raise ValidationError(
                gettext("密码需包含小写字母、大写字母、数字、符号中的至少三类。"), code="password_classes"
            )

    def get_help_text(self):
        return gettext("包含小写字母、大写字母、数字、符号中的至少三类。")


def _user_phone_hashes(user) -> set[str]:
    hashes = {getattr(user, "phone_hash", "") or ""}
    member = getattr(user, "member", None) if getattr(user, "pk", None) else None
    if member is not None:
        hashes.add(member.phone_hash or "")
    return hashes - {""}


def _contains_phone(password: str, user) -> bool:
    """True when any 11-digit run in the password is the user's phone (matched by keyed hash)."""
    hashes = _user_phone_hashes(user)
    if not hashes:
        return False
    from jinshequ.members.models import phone_hash

    digits = re.sub(r"[^0-9]", "", password)
    for run in {*re.findall(r"[0-9]{11,}", password), digits}:
        for i in range(len(run) - 10):
            if phone_hash(run[i : i + 11]) in hashes:
                return True
    return False


class SimilarityValidator:
    """Not the username or the name, not containing or contained in them, and not the phone."""

    def validate(self, password, user=None):
        if user is None:
            return
        low = password.lower()
        for value in (getattr(user, "username", ""), getattr(user, "display_name", "")):
            if value and len(value) >= 3 and (value.lower() in low or low in value.lower()):
                raise ValidationError(gettext("密码与用户名过于相似。"), code="password_too_similar")
        # A missing reverse one-to-one raises a subclass of AttributeError: getattr's default applies.
        member = getattr(user, "member", None) if getattr(user, "pk", None) else None
        if member is not None and member.name and member.name in password:
            raise ValidationError(gettext("密码与用户名过于相似。"), code="password_too_similar")
        if _contains_phone(password, user):
            raise ValidationError(gettext("密码不能包含手机号。"), code="password_contains_phone")
        try:
            pv.UserAttributeSimilarityValidator().validate(password, user)
        except ValidationError:
            raise ValidationError(gettext("密码与个人信息过于相似。"), code="password_too_similar") from None

    def get_help_text(self):
        return gettext("不能与用户名、姓名或手机号相似。")


class CommonPasswordValidator:
    def __init__(self):
        self._inner = pv.CommonPasswordValidator()

    def validate(self, password, user=None):
        try:
            self._inner.validate(password, user)
        except ValidationError:
            raise ValidationError(
                gettext("这个密码太常见，容易被猜到。"), code="password_too_common"
            ) from None

    def get_help_text(self):
        return gettext("不能是常见密码。")
