from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.activities.services import MAX_CAPACITY
from jinshequ.core.forms import style_form
from jinshequ.core.widgets import DateTimeInput
from jinshequ.posts.models import Post, PostCategory, ServiceTeam


class ActivityForm(forms.Form):
    title = forms.CharField(label=_("活动名称"), max_length=80)
    category = forms.ModelChoiceField(
        label=_("类别"), queryset=PostCategory.objects.none(), empty_label=_("请选择类别")
    )
    capacity = forms.IntegerField(
        label=_("名额"),
        min_value=1,
        max_value=MAX_CAPACITY,
        initial=20,
        help_text=_("报满后再报名的党员进入候补，有人取消时自动递补。"),
    )
    place = forms.CharField(label=_("地点"), max_length=100)
    starts_at = forms.DateTimeField(label=_("开始时间"), widget=DateTimeInput)
    ends_at = forms.DateTimeField(label=_("结束时间"), widget=DateTimeInput)
    team = forms.ModelChoiceField(
        label=_("服务队"),
        queryset=ServiceTeam.objects.none(),
        required=False,
        empty_label=_("（社区组织）"),
        help_text=_("由服务队组织的活动，队长也可以管理。"),
    )
    post = forms.ModelChoiceField(
        label=_("相关岗位"), queryset=Post.objects.none(), required=False, empty_label=_("（无）")
    )
    description = forms.CharField(
        label=_("活动说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, community_id: int, teams=None, activity=None, **kwargs):
        """``teams``: the teams the user may choose (a team leader: only theirs, and one is required)."""
        super().__init__(*args, **kwargs)
        categories = PostCategory.objects.filter(is_active=True)
        if activity is not None:  # keep a now-inactive category selectable on the activity that has it
            categories = PostCategory.objects.filter(
                pk__in=[*categories.values_list("pk", flat=True), activity.category_id]
            )
        self.fields["category"].queryset = categories.order_by("sort_order", "name")
        if teams is None:
            self.fields["team"].queryset = ServiceTeam.objects.filter(
                community_id=community_id, is_active=True
            )
        else:
            self.fields["team"].queryset = teams
            self.fields["team"].required = True
            self.fields["team"].empty_label = None
        self.fields["post"].queryset = Post.objects.filter(
            community_id=community_id, is_active=True
        ).order_by("title", "pk")
        style_form(self)

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", gettext("结束时间必须晚于开始时间。"))
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        min_length=2,
        max_length=200,
        error_messages={"required": _("请写明原因。"), "min_length": _("原因至少 2 个字。")},
    )


class ConfirmForm(forms.Form):
    hours = forms.DecimalField(
        label=_("服务时长（小时）"),
        required=False,
        min_value=Decimal("0.5"),
        max_value=Decimal("24"),
        decimal_places=1,
        max_digits=3,
    )


class ScanForm(forms.Form):
    MODES = [("in", _("签到")), ("out", _("签退"))]

    code = forms.CharField(
        label=_("联系卡号或二维码内容"),
        max_length=600,
        error_messages={"required": _("请扫描或输入联系卡号。")},
    )
    mode = forms.ChoiceField(label=_("扫码用途"), choices=MODES, initial="in", widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)
        self.fields["code"].widget.attrs.update(
            {
                "autofocus": True,
                "autocomplete": "off",
                "inputmode": "text",
                "class": "form-control form-control-lg",
            }
        )
