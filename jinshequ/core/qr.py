"""QR codes as inline SVG (segno), for pages and for print."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(
    data: str,
    *,
    size_mm: float | None = None,
    error: str = "m",
    border: int | None = None,
    fast: bool = False,
) -> SafeString:
    """An inline ``<svg>`` QR code of ``data``.

    Without ``size_mm`` it is for a page: no size attributes, a viewBox and the class ``qr-svg``, no style
    attributes (CSS sizes it; a strict CSP forbids inline styles); quiet zone 4 modules. With ``size_mm``
    it is for print (PDF): drawn that many millimetres wide as a single path (fast to lay out), quiet zone
    2 modules unless ``border`` says otherwise.

    ``fast`` fixes the mask pattern instead of scoring all eight (about 5x faster per code; every mask
    gives a valid code that phones read): used when printing thousands of cards at once.
    """
    qr = segno.make(data, error=error, micro=False, mask=0 if fast else None)
    if size_mm is None:
        svg = qr.svg_inline(
            scale=1, border=4 if border is None else border, omitsize=True, light="#fff", svgclass="qr-svg"
        )
        return mark_safe(svg)  # noqa: S308 (segno output: paths only, the data is not embedded as text)
    svg = qr_svg_from_matrix(qr.matrix, size_mm=size_mm, border=2 if border is None else border)
    return mark_safe(svg)  # noqa: S308 (numbers only)


def qr_svg_from_matrix(matrix, *, size_mm: float, border: int = 2) -> str:
    """Draw dark modules as one path of horizontal runs, in module units scaled by the viewBox."""
    width = len(matrix) + 2 * border
    runs = []
    for y, row in enumerate(matrix):
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start + border} {y + border}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="qrcode" width="{size_mm}mm" height="{size_mm}mm" '
        f'viewBox="0 0 {width} {width}" shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{width}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
