"""In-service party members (在职党员) and their protected personal data.

ID numbers and phones are never stored in plain text (R20): each has an AEAD ciphertext for the
few who may reveal it, a keyed HMAC (``*_hash``) for matching and uniqueness, a masked copy for
display, and the last four characters for tail search.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jinshequ.core import crypto
from jinshequ.core.idcard import mask_id_number, mask_phone

ID_PURPOSE = "id_number"
PHONE_PURPOSE = "phone"


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class PartyStatus(models.TextChoices):
    FULL = "full", _("正式党员")
    PROBATIONARY = "probationary", _("预备党员")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("在职")
    LEFT = "left", _("已离开")
    MERGED = "merged", _("已合并")


class Skill(models.Model):
    """A configurable skill (特长) such as 法律, 医疗, 教育."""

    name = models.CharField(_("名称"), max_length=30, unique=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("特长")
        verbose_name_plural = _("特长")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    name = models.CharField(_("姓名"), max_length=40)
    name_pinyin = models.CharField(max_length=120, editable=False, default="")
    name_initials = models.CharField(max_length=20, editable=False, default="")
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("出生日期"))

    id_number_enc = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, editable=False, unique=True)
    id_number_masked = models.CharField(_("身份证号"), max_length=18, editable=False)
    id_tail = models.CharField(max_length=4, editable=False, db_index=True)

    phone_enc = models.TextField(editable=False, blank=True, default="")
    phone_hash = models.CharField(max_length=64, editable=False, blank=True, default="", db_index=True)
    phone_masked = models.CharField(_("手机号"), max_length=11, editable=False, blank=True, default="")
    phone_tail = models.CharField(max_length=4, editable=False, blank=True, default="", db_index=True)

    work_unit = models.ForeignKey(
        "units.WorkUnit", verbose_name=_("所在单位"), on_delete=models.PROTECT, related_name="members"
    )
    community = models.ForeignKey(
        "regions.Region",
        verbose_name=_("居住社区"),
        on_delete=models.PROTECT,
        related_name="resident_members",
        limit_choices_to={"kind": "community"},
    )
    address = models.CharField(_("居住地址"), max_length=200, blank=True)
    party_status = models.CharField(
        _("党员状态"), max_length=16, choices=PartyStatus.choices, default=PartyStatus.FULL
    )
    is_leading_cadre = models.BooleanField(_("领导干部"), default=False)
    skills = models.ManyToManyField(Skill, verbose_name=_("特长"), blank=True, related_name="members")
    avail_weekday_day = models.BooleanField(_("工作日白天"), default=False)
    avail_weekday_evening = models.BooleanField(_("工作日晚上"), default=False)
    avail_weekend = models.BooleanField(_("周末"), default=True)
    joined_party_on = models.DateField(_("入党日期"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    left_on = models.DateField(_("离开日期"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("合并到")
    )
    user = models.OneToOneField(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("党员")
        verbose_name_plural = _("党员")
        ordering = ["name_pinyin", "id"]
        indexes = [
            models.Index(fields=["work_unit", "status", "name_pinyin"], name="member_unit_status_name"),
            models.Index(fields=["community", "status", "name_pinyin"], name="member_comm_status_name"),
            models.Index(fields=["status", "name_pinyin"], name="member_status_name"),
            models.Index(fields=["name_initials"], name="member_initials"),
            models.Index(fields=["name_pinyin", "id"], name="member_pinyin_id"),
            models.Index(fields=["name"], name="member_name"),
        ]

    def __str__(self) -> str:
        return self.name

    # --- protected fields -------------------------------------------------------------
    def set_id_number(self, number: str) -> None:
        self.id_number_enc = crypto.encrypt(number, purpose=ID_PURPOSE)
        self.id_number_hash = id_number_hash(number)
        self.id_number_masked = mask_id_number(number)
        self.id_tail = number[-4:]

    def set_phone(self, phone: str) -> None:
        if not phone:
            self.phone_enc = self.phone_hash = self.phone_masked = self.phone_tail = ""
            return
        self.phone_enc = crypto.encrypt(phone, purpose=PHONE_PURPOSE)
        self.phone_hash = phone_hash(phone)
        self.phone_masked = mask_phone(phone)
        self.phone_tail = phone[-4:]

    def reveal_id_number(self) -> str:
        """Plain ID number. Callers must go through ``members.services.member_reveal``."""
        return crypto.decrypt(self.id_number_enc, purpose=ID_PURPOSE)

    def reveal_phone(self) -> str:
        return crypto.decrypt(self.phone_enc, purpose=PHONE_PURPOSE) if self.phone_enc else ""

    @property
    def availability_labels(self) -> list[str]:
        labels = []
        if self.avail_weekday_day:
            labels.append(str(_("工作日白天")))
        if self.avail_weekday_evening:
            labels.append(str(_("工作日晚上")))
        if self.avail_weekend:
            labels.append(str(_("周末")))
        return labels


def id_number_hash(number: str) -> str:
    return crypto.blind_index(number, purpose=ID_PURPOSE)


def phone_hash(phone: str) -> str:
    return crypto.blind_index(phone, purpose=PHONE_PURPOSE)


# --- report-in (报到), contact cards (联系卡), exemptions, unit history ------------------------------


class RegistrationStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    CONFIRMED = "confirmed", _("已报到")
    REJECTED = "rejected", _("已退回")
    ENDED = "ended", _("已结束")
    CANCELLED = "cancelled", _("已撤回")


OPEN_REGISTRATION_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED)


class RegistrationMethod(models.TextChoices):
    SELF = "self", _("本人申请")
    OFFICE = "office", _("社区现场登记")
    QR = "qr", _("扫码报到")


class Registration(models.Model):
    """A member's report-in to a community. Confirmation is the check-off (销号); the confirmed one is the
    member's current registration. Ended, rejected and cancelled registrations stay as history."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="registrations")
    community = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="registrations",
        limit_choices_to={"kind": "community"},
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="registrations"
    )
    status = models.CharField(
        max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.PENDING
    )
    method = models.CharField(
        max_length=8, choices=RegistrationMethod.choices, default=RegistrationMethod.SELF
    )
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reject_reason = models.CharField(max_length=200, blank=True)
    confirmed_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("报到")
        verbose_name_plural = _("报到")
        ordering = ["-submitted_at", "-id"]
        # One confirmed registration (the current one) per member, and at most one pending request:
        # a member who moves stays reported where they are until the new community confirms.
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=models.Q(status="confirmed"),
                name="one_current_registration_per_member",
            ),
            models.UniqueConstraint(
                fields=["member"],
                condition=models.Q(status="pending"),
                name="one_pending_registration_per_member",
            ),
        ]
        indexes = [
            models.Index(fields=["community", "status"], name="reg_community_status"),
            models.Index(fields=["member", "status"], name="reg_member_status"),
            models.Index(fields=["status", "confirmed_on"], name="reg_status_confirmed"),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.community} ({self.get_status_display()})"

    @property
    def is_current(self) -> bool:
        return self.status == RegistrationStatus.CONFIRMED


class ExemptionReason(models.TextChoices):
    POSTED_AWAY = "posted_away", _("长期外派")
    SICK_LEAVE = "sick_leave", _("病休")
    PAIRED_COMMUNITY = "paired", _("已报到至结对社区")
    OTHER = "other", _("其他")


class Exemption(models.Model):
    """A unit's reason why a member need not report in until a date; excluded from the rate while valid."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="exemptions")
    reason = models.CharField(_("原因"), max_length=16, choices=ExemptionReason.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    valid_until = models.DateField(_("有效期至"))
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("免报到")
        verbose_name_plural = _("免报到")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["member", "revoked_at", "valid_until"], name="exemption_member_valid")
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.get_reason_display()}"


class ContactCard(models.Model):
    """联系卡: a printable card with a unique number and a QR carrying a signed, revocable token.
    The token names the card and its random nonce, never the ID number or phone."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="cards")
    number = models.CharField(_("卡号"), max_length=16, unique=True)
    nonce = models.CharField(max_length=32)
    is_active = models.BooleanField(default=True)
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=100, blank=True)
    printed_at = models.DateTimeField(null=True, blank=True)  # last time the card went to paper

    class Meta:
        verbose_name = _("联系卡")
        verbose_name_plural = _("联系卡")
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=models.Q(is_active=True), name="one_active_card_per_member"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class UnitChange(models.Model):
    """History of a member's work unit: a member who changes unit is moved, not re-created."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="unit_changes")
    from_unit = models.ForeignKey("units.WorkUnit", on_delete=models.PROTECT, related_name="+")
    to_unit = models.ForeignKey("units.WorkUnit", on_delete=models.PROTECT, related_name="+")
    changed_on = models.DateField()
    changed_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-changed_on", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_unit_id} → {self.to_unit_id} ({self.changed_on})"
