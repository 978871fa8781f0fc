"""The region tree: city → district/county → street → community.

Each region stores a materialised ``path`` (its ancestors' ids, dot-separated) so that a subtree
is one indexed ``path LIKE 'prefix%'`` query on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionKind(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区")
    COUNTY = "county", _("县")
    STREET = "street", _("街道")
    COMMUNITY = "community", _("社区")


# Which kinds may sit under which parent kind.
ALLOWED_CHILDREN = {
    None: {RegionKind.CITY},
    RegionKind.CITY: {RegionKind.DISTRICT, RegionKind.COUNTY},
    RegionKind.DISTRICT: {RegionKind.STREET},
    RegionKind.COUNTY: {RegionKind.STREET},
    RegionKind.STREET: {RegionKind.COMMUNITY},
    RegionKind.COMMUNITY: set(),
}


class Region(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("层级"), max_length=16, choices=RegionKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(max_length=255, editable=False, default="")
    code = models.CharField(_("编码"), max_length=32, blank=True)
    address = models.CharField(_("办公地址"), max_length=200, blank=True)
    office_phone = models.CharField(_("办公电话"), max_length=32, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["path"]
        indexes = [models.Index(fields=["path"]), models.Index(fields=["kind", "is_active"])]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_in_parent")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_community(self) -> bool:
        return self.kind == RegionKind.COMMUNITY

    @property
    def depth(self) -> int:
        return self.path.count(".") - 1 if self.path else 0

    def full_name(self) -> str:
        """e.g. 平山区 · 站前街道 · 七一社区 (the city itself is left out)."""
        ids = [int(x) for x in self.path.strip(".").split(".") if x][1:]
        names = dict(Region.objects.filter(pk__in=ids).values_list("pk", "name"))
        return " · ".join(names[i] for i in ids if i in names)


class CommunityManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(kind=RegionKind.COMMUNITY)


class Community(Region):
    """A region of kind community: the leaf members live in and report to."""

    objects = CommunityManager()

    class Meta:
        proxy = True
        verbose_name = _("社区")
        verbose_name_plural = _("社区")
