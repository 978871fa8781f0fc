"""The audit log export, for the audit administrator: the events the filter selects, newest first, at most
``EXPORT_LIMIT`` rows (a larger selection is narrowed by date first)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.services import audit
from jinshequ.core.exporters import Exporter, register

EXPORT_LIMIT = 100_000


@register
class AuditLogExporter(Exporter):
    name = "accounts.audit"
    title = _("审计日志")
    headers = (
        _("时间"),
        _("操作人"),
        _("角色"),
        _("范围"),
        "IP",
        _("事件"),
        _("对象类型"),
        _("对象ID"),
        _("对象"),
        _("结果"),
        _("原因"),
        _("请求ID"),
        _("变更"),
    )

    def prepare(self, qs):
        return qs[:EXPORT_LIMIT]

    def count(self) -> int:
        return min(self._queryset.count(), EXPORT_LIMIT)

    def row(self, e):
        return [
            timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor_name,
            e.get_role_label(),
            e.actor_scope,
            e.ip,
            e.event,
            e.object_type,
            e.object_id,
            e.object_repr,
            gettext("成功") if e.success else gettext("失败"),
            e.reason,
            e.request_id,
            str(e.changes or ""),
        ]

    def audit(self, count: int) -> None:
        audit(
            event="audit.exported",
            actor=self.user,
            object_type="accounts.auditevent",
            reason=f"filters={self.params}",
            changes={"rows": [None, str(count)]},
        )
