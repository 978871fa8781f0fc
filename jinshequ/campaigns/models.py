"""Campaigns (年度 / 活动周期): the period the city runs the campaign, with its settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    report_deadline = models.DateField(_("报到截止日期"), null=True, blank=True)
    target_rate = models.DecimalField(
        _("报到率目标（%）"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("95"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    max_active_posts = models.PositiveSmallIntegerField(_("每名党员最多认领岗位数"), default=2)
    is_current = models.BooleanField(_("当前周期"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("活动周期")
        verbose_name_plural = _("活动周期")
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_campaign"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="campaign_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_open(self, day: dt.date | None = None) -> bool:
        day = day or timezone.localdate()
        return self.starts_on <= day <= self.ends_on

    def deadline_passed(self, day: dt.date | None = None) -> bool:
        day = day or timezone.localdate()
        return bool(self.report_deadline and day > self.report_deadline)


def current_campaign() -> Campaign | None:
    return Campaign.objects.filter(is_current=True).first()
