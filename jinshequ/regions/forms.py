from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access import Kind, kind_of
from jinshequ.core.forms import style_form
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.selectors import region_list_for_user


class RegionForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("层级"), choices=RegionKind.choices)
    parent = forms.ModelChoiceField(
        label=_("上级"), queryset=Region.objects.none(), required=False, empty_label=_("（无，作为市级）")
    )
    code = forms.CharField(label=_("编码"), max_length=32, required=False)
    address = forms.CharField(label=_("办公地址"), max_length=200, required=False)
    office_phone = forms.CharField(
        label=_("办公电话"),
        max_length=32,
        required=False,
        help_text=_("社区对外公开的办公电话，不是个人手机。"),
    )

    def __init__(self, *args, user, region=None, **kwargs):
        super().__init__(*args, **kwargs)
        parents = region_list_for_user(user).exclude(kind=RegionKind.COMMUNITY).filter(is_active=True)
        if region is not None:
            parents = parents.exclude(path__startswith=region.path)
        self.fields["parent"].queryset = parents.order_by("path")
        self.fields["parent"].label_from_instance = lambda r: (
            "　" * r.depth + gettext("%(name)s（%(kind)s）") % {"name": r.name, "kind": r.get_kind_display()}
        )
        if kind_of(user) is not Kind.CITY:
            self.fields["parent"].required = True
            self.fields["parent"].empty_label = gettext("请选择上级区域")
        style_form(self)
