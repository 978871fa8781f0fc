from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access import Kind, kind_of
from jinshequ.core.forms import style_form
from jinshequ.core.idcard import id_birth_date, id_gender, validate_id_number, validate_phone
from jinshequ.core.widgets import DateInput
from jinshequ.members.choices import PICK_LIMIT, blank_choice, first_choices, searchable_widget
from jinshequ.members.models import Gender, MemberStatus, PartyStatus, Skill
from jinshequ.regions.selectors import communities_for_user
from jinshequ.units.selectors import unit_choices_for_user


class MemberForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=40)
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=18,
        required=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    gender = forms.ChoiceField(
        label=_("性别"), choices=[("", _("按身份证号自动识别")), *Gender.choices], required=False
    )
    birth_date = forms.DateField(
        label=_("出生日期"), required=False, widget=DateInput, help_text=_("留空则按身份证号自动填写。")
    )
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    work_unit = forms.ModelChoiceField(label=_("所在单位"), queryset=None, empty_label=_("请选择单位"))
    community = forms.ModelChoiceField(label=_("居住社区"), queryset=None, empty_label=_("请选择社区"))
    address = forms.CharField(label=_("居住地址"), max_length=200, required=False)
    party_status = forms.ChoiceField(
        label=_("党员状态"), choices=PartyStatus.choices, initial=PartyStatus.FULL
    )
    is_leading_cadre = forms.BooleanField(label=_("领导干部"), required=False)
    joined_party_on = forms.DateField(label=_("入党日期"), required=False, widget=DateInput)
    skills = forms.ModelMultipleChoiceField(
        label=_("特长"),
        queryset=Skill.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    avail_weekday_day = forms.BooleanField(label=_("工作日白天可服务"), required=False)
    avail_weekday_evening = forms.BooleanField(label=_("工作日晚上可服务"), required=False)
    avail_weekend = forms.BooleanField(label=_("周末可服务"), required=False, initial=True)

    def __init__(self, *args, user, member=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.member = user, member
        self.fields["work_unit"].queryset = unit_choices_for_user(user).order_by("name")
        self.fields["community"].queryset = communities_for_user(user)
        for name, kind in (("work_unit", "work_unit"), ("community", "community")):
            # a long list (a city's communities, its units) is searched, not one huge <select>
            if len(first_choices(user, kind)) > PICK_LIMIT:
                self.fields[name].widget = searchable_widget(
                    user,
                    kind,
                    data=self.data if self.is_bound else None,
                    filtering=False,
                    selected=self.initial.get(name),
                )
        style_form(self)
        for name, field in self.fields.items():
            widget = field.widget
            if name == "id_number" and member is not None:
                field.required = False
                field.help_text = gettext("当前：%(id_number_masked)s。留空表示不修改。") % {
                    "id_number_masked": member.id_number_masked
                }
                widget.attrs["placeholder"] = member.id_number_masked
            if name == "phone" and member is not None:
                field.help_text = gettext("当前：%(value)s。留空表示不修改。") % {
                    "value": member.phone_masked or gettext("未填写")
                }
                widget.attrs["placeholder"] = member.phone_masked

    def clean_id_number(self):
        value = self.cleaned_data.get("id_number", "")
        if not value and self.member is not None:
            return ""
        return validate_id_number(value)

    def clean_phone(self):
        value = self.cleaned_data.get("phone", "")
        return validate_phone(value) if value else ""

    def clean(self):
        data = super().clean()
        number = data.get("id_number")
        if number:
            if data.get("birth_date") and data["birth_date"] != id_birth_date(number):
                self.add_error(
                    "birth_date",
                    gettext("出生日期与身份证号不一致（身份证号为 %(id_birth_date)s）。")
                    % {"id_birth_date": format(id_birth_date(number), "%Y-%m-%d")},
                )
            if data.get("gender") and data["gender"] != id_gender(number):
                self.add_error("gender", gettext("性别与身份证号不一致。"))
        if (
            data.get("joined_party_on")
            and data.get("birth_date")
            and data["joined_party_on"] <= data["birth_date"]
        ):
            self.add_error("joined_party_on", gettext("入党日期不能早于出生日期。"))
        return data

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        out = {
            k: d[k]
            for k in (
                "name",
                "work_unit",
                "community",
                "address",
                "party_status",
                "is_leading_cadre",
                "joined_party_on",
                "avail_weekday_day",
                "avail_weekday_evening",
                "avail_weekend",
            )
        }
        if d.get("gender"):
            out["gender"] = d["gender"]
        if d.get("birth_date"):
            out["birth_date"] = d["birth_date"]
        out["skills"] = list(d.get("skills") or [])
        return out

    # The member (in the user's scope) already holding the ID number entered: the template links to them.
    duplicate_of: int | None = None

    def apply_service_errors(self, exc: ValidationError) -> None:
        """Show a service's ``ValidationError`` on the fields it names; remember an in-scope duplicate."""
        for error in getattr(exc, "error_dict", {}).get("id_number", []):
            if error.code == "duplicate" and error.params and "pk" in error.params:
                self.duplicate_of = error.params["pk"]
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, exc)


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": _("姓名、拼音首字母、证件或手机号后四位"),
                "class": "form-control",
                "type": "search",
            }
        ),
    )
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput)
    unit_name = forms.CharField(required=False)
    community = forms.IntegerField(label=_("社区"), required=False)
    community_name = forms.CharField(required=False)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *MemberStatus.choices]
    )
    party_status = forms.ChoiceField(
        label=_("党员状态"), required=False, choices=[("", _("正式和预备")), *PartyStatus.choices]
    )
    sort = forms.ChoiceField(
        label=_("排序"),
        required=False,
        choices=[
            ("name", _("按姓名拼音")),
            ("-name", _("按姓名拼音倒序")),
            ("unit", _("按单位")),
            ("community", _("按社区")),
            ("birth", _("按年龄从大到小")),
            ("-birth", _("按年龄从小到大")),
            ("created", _("最近登记")),
        ],
    )
    report = forms.ChoiceField(
        label=_("报到状态"),
        required=False,
        choices=[
            ("", _("全部报到状态")),
            ("reported", _("已报到")),
            ("pending", _("待确认")),
            ("exempt", _("免报到")),
            ("outstanding", _("未报到")),
        ],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        data = self.data if self.is_bound else None
        # A short scope is a plain <select>; a long one (a city's 225 communities, ~2,000 units) is searched:
        # the chosen id plus a name that, without JavaScript, filters by itself (members.choices).
        for name, kind, show in (
            ("community", "community", kind_of(user) is not Kind.UNIT),
            ("unit", "unit", True),
        ):
            pairs = first_choices(user, kind) if show else []
            if not pairs:
                self.fields[name].widget = forms.HiddenInput()
                del self.fields[f"{name}_name"]
            elif len(pairs) <= PICK_LIMIT:
                self.fields[name].widget = forms.Select(
                    attrs={"class": "form-select"}, choices=[blank_choice(kind, filtering=True), *pairs]
                )
                del self.fields[f"{name}_name"]
            else:
                self.fields[name].widget = searchable_widget(user, kind, data=data, filtering=True)
        for name in ("status", "party_status", "sort", "report"):
            field = self.fields[name]
            field.widget.attrs["class"] = "form-select"


class StatusForm(forms.Form):
    action = forms.ChoiceField(choices=[("left", _("标记离开")), ("reactivate", _("恢复在职"))])
    left_on = forms.DateField(label=_("离开日期"), required=False, widget=DateInput)
    reason = forms.CharField(label=_("原因"), max_length=200, required=False)


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[("id_number", _("身份证号")), ("phone", _("手机号"))])
    reason = forms.CharField(
        label=_("查看原因"),
        max_length=200,
        min_length=2,
        error_messages={"required": _("请填写查看原因。"), "min_length": _("请填写查看原因。")},
    )


class SkillForm(forms.Form):
    name = forms.CharField(
        label=_("特长名称"),
        max_length=30,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": _("例如：法律咨询")}),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Skill.objects.filter(name=name).exists():
            raise ValidationError(gettext("已有同名特长。"))
        return name
