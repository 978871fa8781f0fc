"""Service posts (岗位) and claims (认领), service teams (服务队), households and pairing (结对帮扶)."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Schedule(models.TextChoices):
    WEEKDAY_DAY = "weekday_day", _("工作日白天")
    WEEKDAY_EVENING = "weekday_evening", _("工作日晚上")
    WEEKEND = "weekend", _("周末")
    FLEXIBLE = "flexible", _("时间灵活")


class PostCategory(models.Model):
    """City-wide catalogue: 政策宣传, 环境整治, 治安巡逻 … (kept by the city admin)."""

    name = models.CharField(_("名称"), max_length=30, unique=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("岗位类别")
        verbose_name_plural = _("岗位类别")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class CommunitySettings(models.Model):
    community = models.OneToOneField("regions.Region", on_delete=models.CASCADE, related_name="post_settings")
    auto_approve_claims = models.BooleanField(_("岗位认领自动通过"), default=False)

    def __str__(self) -> str:
        return f"settings of community {self.community_id}"


class Post(models.Model):
    community = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="posts",
        limit_choices_to={"kind": "community"},
    )
    category = models.ForeignKey(
        PostCategory, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="posts"
    )
    title = models.CharField(_("岗位名称"), max_length=60)
    description = models.TextField(_("岗位说明"), blank=True)
    skills = models.ManyToManyField(
        "members.Skill", verbose_name=_("所需特长"), blank=True, related_name="posts"
    )
    schedule = models.CharField(
        _("服务时间"), max_length=16, choices=Schedule.choices, default=Schedule.FLEXIBLE
    )
    capacity = models.PositiveSmallIntegerField(_("名额"), validators=[MinValueValidator(1)])
    # Places held by pending and active claims; kept by the claim services under a row lock.
    claimed = models.PositiveSmallIntegerField(default=0, editable=False)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        ordering = ["community", "category__sort_order", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(claimed__lte=F("capacity")), name="post_claimed_within_capacity"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="post_capacity_positive"),
        ]
        indexes = [models.Index(fields=["community", "is_active"], name="post_community_active")]

    def __str__(self) -> str:
        return self.title

    @property
    def places_left(self) -> int:
        return max(0, self.capacity - self.claimed)


class ClaimStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    ACTIVE = "active", _("在岗")
    REJECTED = "rejected", _("未通过")
    WITHDRAWN = "withdrawn", _("已退出")
    ENDED = "ended", _("已结束")


PLACE_HOLDING = (ClaimStatus.PENDING, ClaimStatus.ACTIVE)


class PostClaim(models.Model):
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="claims")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="post_claims")
    status = models.CharField(max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.PENDING)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("岗位认领")
        verbose_name_plural = _("岗位认领")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["post", "member"],
                condition=Q(status__in=["pending", "active"]),
                name="one_open_claim_per_member_and_post",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="claim_member_status"),
            models.Index(fields=["post", "status"], name="claim_post_status"),
        ]

    def __str__(self) -> str:
        return f"{self.member} → {self.post}"


class ServiceTeam(models.Model):
    community = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="service_teams")
    name = models.CharField(_("服务队名称"), max_length=60)
    description = models.TextField(_("简介"), blank=True)
    category = models.ForeignKey(
        PostCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    leader = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("服务队")
        verbose_name_plural = _("服务队")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(ServiceTeam, on_delete=models.PROTECT, related_name="memberships")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="team_memberships")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "member"],
                condition=Q(left_at__isnull=True),
                name="one_open_membership_per_team",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in team {self.team_id}"


class Household(models.Model):
    """A household in difficulty (困难家庭). Private: only the community admin and paired members see it.
    Name, address and phone are personal data: the address and phone are encrypted like members' fields."""

    community = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="households")
    head_name = models.CharField(_("户主"), max_length=40)
    address_enc = models.TextField(blank=True, default="")
    phone_enc = models.TextField(blank=True, default="")
    phone_masked = models.CharField(max_length=11, blank=True, default="")
    situation = models.TextField(_("困难情况"), blank=True)
    needs = models.TextField(_("帮扶需求"), blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("困难家庭")
        verbose_name_plural = _("困难家庭")
        ordering = ["head_name"]

    def __str__(self) -> str:
        return self.head_name


class Pairing(models.Model):
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="pairings")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="pairings")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("结对帮扶")
        verbose_name_plural = _("结对帮扶")
        constraints = [
            models.UniqueConstraint(
                fields=["household", "member"], condition=Q(ended_on__isnull=True), name="one_open_pairing"
            )
        ]

    def __str__(self) -> str:
        return f"member {self.member_id} ↔ household {self.household_id}"
