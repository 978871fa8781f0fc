"""Work units (党员所在单位), which may nest under a system or supervising department."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    PARTY_GOV = "party_gov", _("党政机关")
    PUBLIC_INSTITUTION = "institution", _("事业单位")
    STATE_ENTERPRISE = "soe", _("国有企业")
    PRIVATE_ENTERPRISE = "private", _("非公企业")
    SOCIAL_ORG = "social", _("社会组织")
    SCHOOL = "school", _("学校")
    HOSPITAL = "hospital", _("医院")
    OTHER = "other", _("其他")


class WorkUnit(models.Model):
    name = models.CharField(_("单位名称"), max_length=120, unique=True)
    short_name = models.CharField(_("简称"), max_length=60, blank=True)
    kind = models.CharField(_("单位类型"), max_length=16, choices=UnitKind.choices, default=UnitKind.OTHER)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, editable=False, default="")
    region = models.ForeignKey(
        "regions.Region",
        verbose_name=_("所在区域"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="units",
    )
    region_path = models.CharField(max_length=255, editable=False, default="")
    party_org_name = models.CharField(_("党组织名称"), max_length=120, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=40, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["path"]),
            models.Index(fields=["region_path"]),
            models.Index(fields=["is_active", "name"]),
        ]

    def __str__(self) -> str:
        return self.name
