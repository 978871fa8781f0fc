"""Form helpers shared by every app."""

from __future__ import annotations

from django import forms


def style_form(form: forms.BaseForm) -> None:
    """Give every visible widget its Bootstrap class, unless the form set one already: check boxes and
    radio buttons ``form-check-input``, drop-downs ``form-select``, everything else ``form-control``."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.HiddenInput):
            continue
        if isinstance(
            widget, forms.CheckboxInput | forms.RadioSelect
        ):  # RadioSelect covers CheckboxSelectMultiple
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")
