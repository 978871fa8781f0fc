"""Activities (活动) with sign-up, waiting list and QR check-in; service records (服务记录) with evidence levels.

A member's work manual (工作手册) is read from these rows plus registrations, claims, teams and pairings.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ActivityStatus(models.TextChoices):
    PUBLISHED = "published", _("已发布")
    CANCELLED = "cancelled", _("已取消")


class Activity(models.Model):
    community = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="activities")
    title = models.CharField(_("活动名称"), max_length=80)
    category = models.ForeignKey(
        "posts.PostCategory", verbose_name=_("类别"), on_delete=models.PROTECT, related_name="activities"
    )
    post = models.ForeignKey(
        "posts.Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    team = models.ForeignKey(
        "posts.ServiceTeam", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    place = models.CharField(_("地点"), max_length=100)
    description = models.TextField(_("活动说明"), blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    capacity = models.PositiveSmallIntegerField(_("名额"), validators=[MinValueValidator(1)])
    signed_up = models.PositiveSmallIntegerField(default=0, editable=False)
    status = models.CharField(max_length=10, choices=ActivityStatus.choices, default=ActivityStatus.PUBLISHED)
    checkin_secret = models.CharField(max_length=32, editable=False)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by ``activities_close_ended`` once the no-shows of an ended activity are recorded.
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("活动")
        verbose_name_plural = _("活动")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="activity_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(signed_up__lte=models.F("capacity")), name="activity_within_capacity"
            ),
        ]
        indexes = [
            models.Index(fields=["community", "starts_at"], name="activity_community_start"),
            models.Index(fields=["starts_at"], name="activity_start"),
            models.Index(
                fields=["ends_at"], condition=Q(closed_at__isnull=True), name="activity_unclosed_end"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class SignupStatus(models.TextChoices):
    SIGNED = "signed", _("已报名")
    WAITLISTED = "waitlisted", _("候补")
    CANCELLED = "cancelled", _("已取消")
    ATTENDED = "attended", _("已参加")
    NO_SHOW = "no_show", _("未到场")


class Signup(models.Model):
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="signups")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="signups")
    status = models.CharField(max_length=10, choices=SignupStatus.choices, default=SignupStatus.SIGNED)
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)  # the day-before reminder went out (once)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "member"],
                condition=Q(status__in=["signed", "waitlisted", "attended"]),
                name="one_open_signup",
            )
        ]
        indexes = [
            models.Index(fields=["activity", "status"], name="signup_activity_status"),
            models.Index(fields=["member", "status"], name="signup_member_status"),
        ]

    def __str__(self) -> str:
        return f"signup {self.pk} ({self.status})"


class Attendance(models.Model):
    signup = models.OneToOneField(Signup, on_delete=models.PROTECT, related_name="attendance")
    checked_in_at = models.DateTimeField()
    checked_out_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=8, choices=[("qr", _("扫活动码")), ("card", _("扫联系卡"))])
    nonce = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"attendance {self.pk}"


class EvidenceLevel(models.IntegerChoices):
    SELF = 1, _("本人填报")
    COMMUNITY = 2, _("社区确认")
    VENUE_QR = 3, _("现场扫码")
    RESIDENT = 4, _("服务对象确认")
    INSPECTOR = 5, _("督查回访核实")


class RecordStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    VERIFIED = "verified", _("已核实")
    REJECTED = "rejected", _("未通过")


class ServiceRecord(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="service_records")
    community = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="service_records")
    category = models.ForeignKey(
        "posts.PostCategory", verbose_name=_("类别"), on_delete=models.PROTECT, related_name="+"
    )
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.PROTECT, related_name="records"
    )
    served_on = models.DateField(_("服务日期"))
    month = models.PositiveIntegerField(editable=False)  # yyyymm, for indexed monthly sums (PERFORMANCE.md)
    hours = models.DecimalField(
        _("服务时长（小时）"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("24"))],
    )
    description = models.CharField(_("服务内容"), max_length=300)
    people_helped = models.PositiveIntegerField(_("服务人数"), default=0)
    photo = models.ImageField(_("照片"), upload_to="records/%Y/%m/", null=True, blank=True)
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.PENDING)
    evidence = models.PositiveSmallIntegerField(choices=EvidenceLevel.choices, default=EvidenceLevel.SELF)
    verified_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("服务记录")
        verbose_name_plural = _("服务记录")
        ordering = ["-served_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "activity"],
                condition=Q(activity__isnull=False),
                name="one_record_per_activity",
            )
        ]
        indexes = [
            models.Index(fields=["member", "served_on"], name="record_member_date"),
            models.Index(fields=["community", "status", "served_on"], name="record_comm_status_date"),
            models.Index(fields=["status", "month"], name="record_status_month"),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.served_on} {self.hours}h"


class ResidentCode(models.Model):
    """A one-time code a served resident gives the member, raising a record to evidence level 4."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="resident_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    record = models.OneToOneField(
        ServiceRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="resident_code"
    )
    # Records helper (issue 4): the confirmation link carries a random token; ``token_hash`` is its HMAC
    # (lookup), ``code_hash`` the HMAC of token + 6-digit code. Wrong codes count in ``attempts``.
    token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    rating = models.CharField(_("评价"), max_length=12, blank=True, default="")

    def __str__(self) -> str:
        return f"resident code {self.pk} (record {self.record_id})"


class Certificate(models.Model):
    """服务证明: a member's verified service hours in a period, printed with a QR that opens a public check
    page. The QR carries a signed token naming this row (pk + ``nonce``), so a certificate can be checked
    and revoked later. Names are copied at issue time: the paper and the check page keep saying what was
    certified even if the member later changes unit."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="certificates")
    number = models.CharField(_("证明编号"), max_length=20, unique=True)
    nonce = models.CharField(max_length=32, editable=False)
    period_start = models.DateField(_("起始日期"))
    period_end = models.DateField(_("截止日期"))
    hours = models.DecimalField(_("已核实服务时长"), max_digits=7, decimal_places=1)
    record_count = models.PositiveIntegerField(default=0)
    member_name = models.CharField(max_length=40)
    unit_name = models.CharField(max_length=120)
    issuer_name = models.CharField(max_length=120, blank=True)
    issued_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("服务证明")
        verbose_name_plural = _("服务证明")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="certificate_period_order"
            )
        ]
        indexes = [models.Index(fields=["member", "issued_at"], name="certificate_member_time")]

    def __str__(self) -> str:
        return self.number
