from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.core.forms import style_form
from jinshequ.core.idcard import validate_phone
from jinshequ.core.widgets import DateInput
from jinshequ.members.models import Skill
from jinshequ.posts.models import PostCategory, Schedule
from jinshequ.posts.services import MAX_CAPACITY


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("类别名称"), max_length=30)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)


class PostForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("类别"), queryset=PostCategory.objects.none(), empty_label=_("请选择类别")
    )
    title = forms.CharField(label=_("岗位名称"), max_length=60)
    description = forms.CharField(
        label=_("岗位说明"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    skills = forms.ModelMultipleChoiceField(
        label=_("所需特长"),
        queryset=Skill.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选表示不限特长。与党员登记的特长匹配时排在前面。"),
    )
    schedule = forms.ChoiceField(label=_("服务时间"), choices=Schedule.choices, initial=Schedule.FLEXIBLE)
    capacity = forms.IntegerField(label=_("名额"), min_value=1, max_value=MAX_CAPACITY, initial=5)
    starts_on = forms.DateField(label=_("开始日期"), widget=DateInput)
    ends_on = forms.DateField(
        label=_("结束日期"), required=False, widget=DateInput, help_text=_("留空表示长期有效。")
    )

    def __init__(self, *args, post=None, **kwargs):
        super().__init__(*args, **kwargs)
        categories = PostCategory.objects.filter(is_active=True)
        skills = Skill.objects.filter(is_active=True)
        if post is not None:  # keep a now-inactive category or skill selectable on the post that has it
            categories = PostCategory.objects.filter(
                pk__in=[*categories.values_list("pk", flat=True), post.category_id]
            )
            skills = Skill.objects.filter(
                pk__in=[*skills.values_list("pk", flat=True), *post.skills.values_list("pk", flat=True)]
            )
        self.fields["category"].queryset = categories.order_by("sort_order", "name")
        self.fields["skills"].queryset = skills.order_by("sort_order", "name")
        if post is None:
            self.fields["starts_on"].initial = timezone.localdate()
        style_form(self)

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", gettext("结束日期不能早于开始日期。"))
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        min_length=2,
        max_length=200,
        error_messages={"required": _("请写明原因。"), "min_length": _("原因至少 2 个字。")},
    )


class SettingsForm(forms.Form):
    auto_approve_claims = forms.BooleanField(
        label=_("党员认领岗位后自动通过（不需社区审核）"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("服务队名称"), max_length=60)
    description = forms.CharField(label=_("简介"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.ModelChoiceField(
        label=_("服务类别"), queryset=PostCategory.objects.none(), required=False, empty_label=_("不限")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = PostCategory.objects.filter(is_active=True).order_by("sort_order")
        style_form(self)


class HouseholdForm(forms.Form):
    head_name = forms.CharField(label=_("户主姓名"), max_length=40)
    address = forms.CharField(
        label=_("住址"), max_length=200, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    phone = forms.CharField(
        label=_("联系电话"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    situation = forms.CharField(label=_("困难情况"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    needs = forms.CharField(label=_("帮扶需求"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, household=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.household = household
        if household is not None:
            self.fields["address"].help_text = gettext("出于隐私保护不回显原住址；留空表示不修改。")
            self.fields["phone"].help_text = gettext("当前：%(value)s。留空表示不修改。") % {
                "value": household.phone_masked or gettext("未填写")
            }
        style_form(self)

    def clean_phone(self):
        value = self.cleaned_data.get("phone", "")
        if not value:
            return ""
        try:
            return validate_phone(value)
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from None


class PairingForm(forms.Form):
    member = forms.ModelChoiceField(
        label=_("结对党员"), queryset=None, empty_label=_("请选择本社区已报到的党员")
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members
        self.fields["member"].label_from_instance = lambda m: (
            gettext("%(name)s（%(name2)s）") % {"name": m.name, "name2": m.work_unit.name}
        )
        style_form(self)
