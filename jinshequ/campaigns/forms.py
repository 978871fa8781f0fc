from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from jinshequ.core.widgets import DateInput


class CampaignForm(forms.Form):
    name = forms.CharField(
        label=_("名称"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("如：2026年在职党员进社区")}),
    )
    starts_on = forms.DateField(label=_("开始日期"), widget=DateInput)
    ends_on = forms.DateField(label=_("结束日期"), widget=DateInput)
    report_deadline = forms.DateField(
        label=_("报到截止日期"),
        required=False,
        widget=DateInput,
        help_text=_("截止日期临近或已过而报到率未达目标的单位和社区会被突出显示。"),
    )
    target_rate = forms.DecimalField(
        label=_("报到率目标（%）"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        initial=Decimal("95"),
    )
    max_active_posts = forms.IntegerField(
        label=_("每名党员最多认领岗位数"), min_value=1, max_value=20, initial=2
    )
    make_current = forms.BooleanField(
        label=_("设为当前活动周期"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        help_text=_("同一时间只有一个当前周期；报到、截止日期和目标都以当前周期为准。"),
    )

    error_messages = {
        "ends_before_start": _("结束日期不能早于开始日期。"),
        "deadline_outside": _("报到截止日期应在活动周期之内。"),
    }

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["make_current"]
        for name, field in self.fields.items():
            if name != "make_current":
                field.widget.attrs.setdefault("class", "form-control")

    def clean(self):
        data = super().clean()
        starts, ends, deadline = data.get("starts_on"), data.get("ends_on"), data.get("report_deadline")
        if starts and ends and ends < starts:
            self.add_error("ends_on", ValidationError(self.error_messages["ends_before_start"]))
        elif starts and ends and deadline and not starts <= deadline <= ends:
            self.add_error("report_deadline", ValidationError(self.error_messages["deadline_outside"]))
        return data

    def service_kwargs(self) -> dict:
        return {
            k: self.cleaned_data[k]
            for k in ("name", "starts_on", "ends_on", "report_deadline", "target_rate", "max_active_posts")
        }

    def apply_service_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, exc)
