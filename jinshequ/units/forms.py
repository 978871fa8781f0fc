from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access import Kind, kind_of
from jinshequ.core.forms import style_form
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.selectors import region_list_for_user
from jinshequ.units.models import UnitKind, WorkUnit
from jinshequ.units.selectors import unit_list_for_user


class UnitForm(forms.Form):
    name = forms.CharField(label=_("单位名称"), max_length=120)
    short_name = forms.CharField(label=_("简称"), max_length=60, required=False)
    kind = forms.ChoiceField(label=_("单位类型"), choices=UnitKind.choices)
    parent = forms.ModelChoiceField(
        label=_("上级单位"), queryset=WorkUnit.objects.none(), required=False, empty_label=_("（无）")
    )
    region = forms.ModelChoiceField(
        label=_("所在区域"), queryset=Region.objects.none(), required=False, empty_label=_("（市直）")
    )
    party_org_name = forms.CharField(label=_("党组织名称"), max_length=120, required=False)
    contact_name = forms.CharField(label=_("联系人"), max_length=40, required=False)

    def __init__(self, *args, user, unit=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit = unit
        parents = unit_list_for_user(user).filter(is_active=True)
        if unit is not None:
            parents = parents.exclude(path__startswith=unit.path)
        self.fields["parent"].queryset = parents.order_by("name")
        kind = kind_of(user)
        if kind is Kind.UNIT:
            self.fields["parent"].required = True
            self.fields["parent"].empty_label = gettext("请选择上级单位")
            self.fields["region"].queryset = Region.objects.exclude(kind=RegionKind.COMMUNITY).order_by(
                "path"
            )
        else:
            self.fields["region"].queryset = (
                region_list_for_user(user)
                .exclude(kind__in=[RegionKind.COMMUNITY, RegionKind.STREET])
                .order_by("path")
            )
            if kind is not Kind.CITY:
                self.fields["region"].required = True
                self.fields["region"].empty_label = gettext("请选择所在区域")
        style_form(self)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = WorkUnit.objects.filter(name=name).exclude(pk=getattr(self.unit, "pk", None)).exists()
        if clash:
            raise forms.ValidationError(gettext("已有同名单位，请核对是否重复登记。"))
        return name
