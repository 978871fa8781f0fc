"""Spreadsheet import jobs: one upload's way from validation to confirmation and apply."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    """One spreadsheet import (members or units): upload → validation → confirmation → apply.

    The uploaded file is kept encrypted under ``MEDIA_ROOT/imports`` until the import is done. ``errors``
    holds one entry per problem: ``{"row", "column", "value" (masked), "message"}``; ``preview``
    the first valid rows, masked. While a worker validates or applies it refreshes
    ``heartbeat_at``; a job whose heartbeat went stale is marked failed (``imports.services.reap_stale_jobs``).
    """

    class Kind(models.TextChoices):
        MEMBERS = "members", _("党员")
        UNITS = "units", _("单位")

    class Status(models.TextChoices):
        VALIDATING = "validating", _("正在检查")
        READY = "ready", _("待确认")
        APPLYING = "applying", _("正在导入")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    class Mode(models.TextChoices):
        ALL = "all", _("全部导入")
        VALID_ONLY = "valid_only", _("只导入无误的行")

    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices, default=Kind.MEMBERS)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.VALIDATING)
    mode = models.CharField(_("导入方式"), max_length=12, choices=Mode.choices, blank=True)
    created_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("导入人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
    )
    file_name = models.CharField(_("文件名"), max_length=200)
    upload = models.FileField(upload_to="imports/", max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    ip = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    total_rows = models.PositiveIntegerField(_("数据行数"), default=0)
    valid_rows = models.PositiveIntegerField(_("无误行数"), default=0)
    error_rows = models.PositiveIntegerField(_("有误行数"), default=0)
    errors = models.JSONField(default=list, blank=True)
    preview = models.JSONField(default=list, blank=True)
    notices = models.JSONField(default=list, blank=True)
    message = models.TextField(_("说明"), blank=True)
    planned = models.JSONField(default=dict, blank=True)
    created_count = models.PositiveIntegerField(_("新增"), default=0)
    updated_count = models.PositiveIntegerField(_("更新"), default=0)
    unchanged_count = models.PositiveIntegerField(_("无变化"), default=0)
    skipped_count = models.PositiveIntegerField(_("跳过"), default=0)
    progress = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        db_table = "members_importjob"  # moved from members with its data (state-only migration)
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_by", "created_at"], name="importjob_user_time"),
            models.Index(fields=["status", "heartbeat_at"], name="importjob_status_beat"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}导入 #{self.pk} {self.file_name}"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.VALIDATING, self.Status.APPLYING)

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.progress / self.progress_total)) if self.progress_total else 0
