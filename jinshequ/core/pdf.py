"""Printed documents: HTML templates → PDF with WeasyPrint, Chinese set in Noto CJK.

Print templates live under ``templates/pdf/`` and are never served as web pages, so they may carry
their CSS in a ``<style>`` element (the CSP does not apply to WeasyPrint).

Two guards:
- Without a CJK font WeasyPrint silently draws empty boxes for every Chinese character. We refuse
  instead (``PdfFontMissing``, "缺少中文字体，请安装 fonts-noto-cjk"), so nobody prints 2,000 blank cards.
- WeasyPrint fetches ``<img src>``, CSS ``url()`` and fonts itself. The fetcher here allows only
  ``data:`` URIs and files under our own static directory: a name typed into a form can never make
  the server fetch a URL (SSRF), even if escaping failed somewhere.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.http import HttpResponse
from django.template.loader import render_to_string

from jinshequ.core.exports import content_disposition

logger = logging.getLogger(__name__)

FONT_MISSING_MESSAGE = "缺少中文字体，请安装 fonts-noto-cjk"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class PdfFontMissing(RuntimeError):
    """No font with Chinese glyphs is installed: a PDF would show blank boxes."""

    def __init__(self, message: str = FONT_MISSING_MESSAGE):
        super().__init__(message)
        self.message = message


@functools.lru_cache(maxsize=1)
def _fc_list_has_cjk() -> bool:
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return False
    try:
        out = subprocess.run(  # noqa: S603 (fc-list, found on PATH, fixed arguments)
            [fc_list, ":lang=zh", "family"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def cjk_font_available() -> bool:
    """True when fontconfig knows a font covering Chinese (Noto CJK in production)."""
    try:
        from jinshequ.core.system import cjk_font_available as system_check
    except ImportError:
        return _fc_list_has_cjk()
    return bool(system_check())


def _allowed(url: str) -> bool:
    """Only ``data:`` URIs and files under our own static directory (no network, no other files)."""
    parts = urlsplit(url)
    if parts.scheme == "data":
        return True
    if parts.scheme == "file":
        path = Path(unquote(parts.path)).resolve()
        return path.is_relative_to(STATIC_DIR.resolve()) and path.is_file()
    return False


def _url_fetcher():
    try:
        from weasyprint.urls import URLFetcher  # WeasyPrint >= 68: a class
    except ImportError:  # older WeasyPrint: a function
        from weasyprint import default_url_fetcher

        def fetch(url, *args, **kwargs):
            if not _allowed(url):
                raise ValueError(f"PDF resource refused: {urlsplit(url).scheme}:…")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch

    class LocalOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if not _allowed(url):
                raise ValueError(f"PDF resource refused: {urlsplit(url).scheme}:…")
            return super().fetch(url, headers)

    return LocalOnlyFetcher(allowed_protocols=("data", "file"))


def render_pdf(template: str, context: dict | None = None) -> bytes:
    """Render ``template`` with ``context`` to PDF bytes. Raises ``PdfFontMissing`` without a CJK font."""
    if not cjk_font_available():
        raise PdfFontMissing
    import weasyprint
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):  # printed documents stay Chinese in every UI language
        html = render_to_string(template, context or {})
    document = weasyprint.HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=_url_fetcher())
    return document.write_pdf()


def pdf_response(data: bytes, filename: str) -> HttpResponse:
    """A PDF download: safe Chinese file name, never cached (it carries names of people)."""
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(filename)
    response["Cache-Control"] = "no-store"
    response["Content-Length"] = str(len(data))
    return response
