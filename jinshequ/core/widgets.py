"""``SearchableSelect``: a pick list too long for a ``<select>`` (a city's 225 communities, ~2,000 units).

It is Django's ``Select`` (the chosen id is the value, validation is the field's), listing only the chosen
option and those matching a search text, with a search box before it (its own template, public widget API).
As the user types, the box asks ``url`` for the matching ``<option>``s (htmx, no script of our own, so it
works under the strict CSP); without JavaScript the box is sent with the form and the page lists the
matches (the server look-up). The form sets ``choices`` from a scoped selector and ``search`` from its data.
"""

from __future__ import annotations

from django import forms


class SearchableSelect(forms.Select):
    template_name = "core/widgets/searchable_select.html"

    def __init__(
        self, attrs=None, choices=(), *, url: str, search_name: str, search: str = "", placeholder: str = ""
    ):
        super().__init__(attrs, choices)
        self.url, self.search_name, self.search, self.placeholder = url, search_name, search, placeholder

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            url=self.url, search_name=self.search_name, search=self.search, placeholder=self.placeholder
        )
        return context


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
