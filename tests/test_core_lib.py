"""Small shared helpers of the core library: one QR drawer, one form styler."""

from django import forms

from jinshequ.core.forms import style_form
from jinshequ.core.qr import qr_svg


def test_qr_for_a_page_has_no_size_and_the_css_class():
    svg = qr_svg("https://example.test/report/abc")
    assert svg.startswith("<svg") and 'class="qr-svg"' in svg
    assert "width=" not in svg.split(">")[0] and "style=" not in svg


def test_qr_for_print_is_drawn_in_millimetres():
    svg = qr_svg("https://example.test/card/1", size_mm=25)
    assert 'width="25mm"' in svg and 'class="qrcode"' in svg
    assert qr_svg("x", size_mm=25, fast=True) != ""


def test_style_form_gives_each_kind_of_widget_its_class_and_keeps_a_chosen_one():
    class F(forms.Form):
        name = forms.CharField()
        kind = forms.ChoiceField(choices=[("a", "a")])
        ok = forms.BooleanField(required=False)
        tags = forms.MultipleChoiceField(choices=[("a", "a")], widget=forms.CheckboxSelectMultiple)
        secret = forms.CharField(widget=forms.HiddenInput)
        big = forms.CharField(widget=forms.TextInput(attrs={"class": "form-control form-control-lg"}))

    form = F()
    style_form(form)
    classes = {name: field.widget.attrs.get("class") for name, field in form.fields.items()}
    assert classes == {
        "name": "form-control",
        "kind": "form-select",
        "ok": "form-check-input",
        "tags": "form-check-input",
        "secret": None,
        "big": "form-control form-control-lg",
    }
