"""Forms for service records, the verification queue, the resident's confirmation and certificates.

Forms only parse input; the rules live in ``activities.records`` (their ``RecordError`` messages are put on
the matching field by ``attach_error``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.activities.models import EvidenceLevel, RecordStatus
from jinshequ.activities.records import DESCRIPTION_MAX, MAX_PEOPLE_HELPED, RATINGS, RecordError
from jinshequ.core.errors import error_message
from jinshequ.core.forms import style_form
from jinshequ.core.widgets import DateInput
from jinshequ.posts.models import PostCategory

# Which form field a service error belongs to (the rest go on top of the form).
ERROR_FIELDS = {
    "photo_empty": "photo",
    "photo_too_big": "photo",
    "photo_type": "photo",
    "photo_pixels": "photo",
    "bad_hours": "hours",
    "day_over_24": "hours",
    "future_date": "served_on",
    "before_registration": "served_on",
    "bad_category": "category",
    "description_required": "description",
    "description_too_long": "description",
    "bad_people": "people_helped",
    "bad_period": "period_end",
    "wrong_code": "code",
    "reason_required": "reason",
}


def attach_error(form: forms.Form, exc: RecordError) -> None:
    name = ERROR_FIELDS.get(exc.code)
    form.add_error(name if name in form.fields else None, error_message(exc))


class RecordForm(forms.Form):
    served_on = forms.DateField(label=_("服务日期"), widget=DateInput)
    hours = forms.DecimalField(
        label=_("时长（小时）"),
        min_value=Decimal("0.5"),
        max_value=Decimal("24"),
        decimal_places=1,
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
        error_messages={
            "invalid": _("请填写服务时长（小时），例如 1.5。"),
            "min_value": _("服务时长应在 0.5 到 24 小时之间。"),
            "max_value": _("服务时长应在 0.5 到 24 小时之间。"),
            "max_decimal_places": _("服务时长以半小时为单位，例如 1、1.5、2。"),
        },
    )
    category = forms.ModelChoiceField(
        label=_("服务类别"), queryset=PostCategory.objects.none(), empty_label=_("请选择类别")
    )
    description = forms.CharField(
        label=_("服务内容"),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("例如：为独居老人代购药品并陪同复诊")}),
    )
    people_helped = forms.IntegerField(
        label=_("服务人数"),
        min_value=0,
        max_value=MAX_PEOPLE_HELPED,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    photo = forms.FileField(
        label=_("现场照片（可选）"),
        required=False,
        help_text=_("JPEG、PNG 或 WebP，不超过 5 MB。上传时会去除照片中的位置等信息。"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = PostCategory.objects.filter(is_active=True).order_by(
            "sort_order", "name"
        )
        self.fields["served_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.fields["served_on"].initial = timezone.localdate()
        self.fields["hours"].widget.attrs.update({"min": "0.5", "max": "24"})
        style_form(self)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        min_length=2,
        max_length=200,
        error_messages={"required": _("请写明原因。"), "min_length": _("请写明原因（至少 2 个字）。")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)


STATUS_CHOICES = [("", _("全部状态")), *RecordStatus.choices]


def evidence_choices() -> list[tuple[str, str]]:
    """The minimum-evidence filter's options, in the active language (built when used, not at import)."""
    return [("", gettext("不限")), *[(str(v), f"≥ {label}") for v, label in EvidenceLevel.choices]]


class RecordFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=STATUS_CHOICES, required=False)
    min_evidence = forms.ChoiceField(label=_("最低证据等级"), choices=evidence_choices, required=False)
    date_from = forms.DateField(label=_("服务日期自"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("至"), required=False, widget=DateInput)
    q = forms.CharField(label=_("党员姓名或记录编号"), required=False, max_length=40)

    def __init__(self, *args, with_q: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_q:
            del self.fields["q"]
        style_form(self)

    def values(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        level = data.get("min_evidence")
        return {
            "status": data.get("status", ""),
            "min_evidence": int(level) if level else None,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "q": data.get("q", ""),
        }


class ConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("确认码"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]*",
                "placeholder": _("6 位数字"),
            }
        ),
        error_messages={"required": _("请输入党员手机上显示的 6 位确认码。")},
    )
    rating = forms.ChoiceField(
        label=_("您对这次服务满意吗？（可不选）"), choices=RATINGS, required=False, widget=forms.RadioSelect
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["class"] = "form-control form-control-lg text-center code-input"


class CertificateForm(forms.Form):
    period_start = forms.DateField(label=_("起始日期"), widget=DateInput)
    period_end = forms.DateField(label=_("截止日期"), widget=DateInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["period_start"].initial = dt.date(today.year, 1, 1)
        self.fields["period_end"].initial = today
        style_form(self)
