from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from jinshequ.core.forms import style_form
from jinshequ.supervision.rules import rule_choices
from jinshequ.supervision.services import DESCRIPTION_MAX, NOTE_MAX, TITLE_MAX


class ItemForm(forms.Form):
    """An item of one checklist; the rule choices depend on the checklist (member or community)."""

    title = forms.CharField(label=_("事项名称"), max_length=TITLE_MAX)
    rule = forms.ChoiceField(label=_("判定方式"), required=False)
    description = forms.CharField(
        label=_("说明"),
        max_length=DESCRIPTION_MAX,
        required=False,
        help_text=_("完成标准；人工确认的事项请写明需要填写的佐证。"),
    )

    def __init__(self, *args, scope: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].choices = rule_choices(scope)
        style_form(self)


class MarkForm(forms.Form):
    """Mark a manual item done (note = evidence) or withdraw the mark (note = why)."""

    item = forms.IntegerField(widget=forms.HiddenInput)
    action = forms.ChoiceField(choices=[("mark", "mark"), ("unmark", "unmark")], widget=forms.HiddenInput)
    note = forms.CharField(label=_("佐证说明"), max_length=NOTE_MAX, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_form(self)
