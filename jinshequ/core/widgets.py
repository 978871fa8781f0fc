"""Form widgets that render in Python instead of one template per option.

Django's ``Select`` renders every ``<option>`` through a template include: with a few hundred communities or
units in a filter, that is most of a list page's time. ``FastSelect`` writes the same markup directly (flat
choices only, no option groups), escaped as Django escapes it.
"""

from __future__ import annotations

from html import escape  # the same five characters as django.utils.html.escape, without SafeString per call

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs["name"] = name
        selected = {str(v) for v in self.format_value(value)}
        parts = [format_html("<select{}>", flatatt(final_attrs))]
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                raise ValueError("FastSelect does not render option groups")
            key = "" if option_value is None else str(option_value)
            if key in selected:
                parts.append(f'<option value="{escape(key)}" selected>{escape(str(label))}</option>')
                if not self.allow_multiple_selected:
                    selected = set()
            else:
                parts.append(f'<option value="{escape(key)}">{escape(str(label))}</option>')
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


class DateInput(forms.DateInput):
    """The browser's date picker, always written as an ISO date.

    ``<input type="date">`` accepts only ``2026-07-15`` whatever the page's language, while Django writes a
    date in the active language's first input format (``2026/07/15`` in Chinese). The browser silently drops
    such a value, so a form submitted unchanged would save the date as empty. Every date field of the project
    uses this widget (a test checks it).
    """

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker (``datetime-local``), always written as ``2026-07-15T09:30``."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")
