"""Checklists: 四个一 (per member) and 十个有 (per community), defined per campaign by the city admin.

An item with a ``rule`` is computed from the data (e.g. ``member.has_active_post``); an item without
one is marked by the responsible admin with a note of evidence.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ChecklistScope(models.TextChoices):
    MEMBER = "member", _("党员（四个一）")
    COMMUNITY = "community", _("社区（十个有）")


class ChecklistItem(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="checklist_items"
    )
    scope = models.CharField(max_length=10, choices=ChecklistScope.choices)
    title = models.CharField(_("事项"), max_length=60)
    rule = models.CharField(_("自动判定规则"), max_length=40, blank=True)
    # What counts as done, shown beside the item (for a manual item: which evidence the admin should note).
    description = models.CharField(_("说明"), max_length=200, blank=True, default="")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("清单事项")
        verbose_name_plural = _("清单事项")
        ordering = ["scope", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "scope", "title"], name="checklist_item_unique_title")
        ]

    def __str__(self) -> str:
        return self.title


class ChecklistMark(models.Model):
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="marks")
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    community = models.ForeignKey(
        "regions.Region", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    done = models.BooleanField(default=True)
    note = models.CharField(_("佐证说明"), max_length=200)
    marked_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("清单确认")
        verbose_name_plural = _("清单确认")
        constraints = [
            models.UniqueConstraint(
                fields=["item", "member"], condition=Q(member__isnull=False), name="one_mark_per_member_item"
            ),
            models.UniqueConstraint(
                fields=["item", "community"],
                condition=Q(community__isnull=False),
                name="one_mark_per_community_item",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False, community__isnull=True)
                | Q(member__isnull=True, community__isnull=False),
                name="mark_has_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"mark {self.pk} of item {self.item_id}"
