"""Submit an HTML form as a browser would, from the page the server rendered.

A test that posts a hand-written dict proves what the view does with that dict; it cannot catch a form that a
browser submits differently from what the server rendered (a date in ``2026/07/15`` in an ``<input
type="date">`` is dropped by the browser, so an unchanged form erased the date). ``forms_in(html)`` reads the
forms of a page; ``Form.submission()`` returns what the browser would send: values of inputs, checked boxes
and radios, selected options (the first one where a single select has none selected), textarea contents —
and for date, time and number inputs only values the browser accepts, as it sends an empty value for the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# What <input type=...> accepts as a value (HTML's "valid date string" and friends); anything else is sent empty.
_VALID = {
    "date": re.compile(r"\d{4,}-\d{2}-\d{2}"),
    "datetime-local": re.compile(r"\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?"),
    "time": re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?"),
    "month": re.compile(r"\d{4,}-\d{2}"),
    "number": re.compile(r"-?(\d+(\.\d+)?|\.\d+)([eE][-+]?\d+)?"),
}
_NOT_SENT = {"submit", "button", "reset", "image", "file"}


@dataclass
class Field:
    tag: str
    type: str
    name: str
    value: str = ""
    checked: bool = False
    multiple: bool = False
    disabled: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # (value, selected) for selects


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def submission(self) -> dict[str, list[str]]:
        data: dict[str, list[str]] = {}
        for f in self.fields:
            if not f.name or f.disabled:
                continue
            if f.tag == "select":
                chosen = [v for v, selected in f.options if selected]
                if not chosen and not f.multiple and f.options:
                    chosen = [f.options[0][0]]
                if not f.multiple:
                    chosen = chosen[-1:]
                data.setdefault(f.name, []).extend(chosen)
            elif f.type in ("checkbox", "radio"):
                if f.checked:
                    data.setdefault(f.name, []).append(f.value or "on")
            elif f.type in _NOT_SENT:
                continue
            else:
                value = f.value
                pattern = _VALID.get(f.type)
                if pattern and value and not pattern.fullmatch(value):
                    value = ""  # what the browser does with a value its control cannot show
                if f.tag == "textarea":
                    value = value.removeprefix("\n")  # the parser drops a newline right after <textarea>
                    value = value.replace("\r\n", "\n").replace("\n", "\r\n")
                data.setdefault(f.name, []).append(value)
        return data


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: list | None = None  # [value or None, selected, text]
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        disabled = "disabled" in a
        if tag == "input":
            self._form.fields.append(
                Field(
                    "input",
                    a.get("type", "text").lower(),
                    a.get("name", ""),
                    a.get("value", ""),
                    checked="checked" in a,
                    disabled=disabled,
                )
            )
        elif tag == "select":
            self._select = Field(
                "select", "select", a.get("name", ""), multiple="multiple" in a, disabled=disabled
            )
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._close_option()
            self._option = [a.get("value"), "selected" in a, ""]
        elif tag == "textarea":
            self._textarea = Field("textarea", "textarea", a.get("name", ""), disabled=disabled)
            self._form.fields.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data
        elif self._option is not None:
            self._option[2] += data

    def _close_option(self):
        if self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select.options.append((value if value is not None else text.strip(), selected))
        self._option = None

    def handle_endtag(self, tag):
        if tag == "option":
            self._close_option()
        elif tag == "select":
            self._close_option()
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def forms_in(html: str) -> list[Form]:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.forms


def post_forms(html: str) -> list[Form]:
    return [f for f in forms_in(html) if f.method == "post"]
