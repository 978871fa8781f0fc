"""Small request helpers shared by views and the library."""

from __future__ import annotations

from django.http import HttpRequest


def wants_json(request: HttpRequest) -> bool:
    """Does the client ask for JSON rather than a page? ``Accept: application/json`` without ``text/html``:
    a browser, which always accepts HTML, gets the page; a script that asks for JSON gets JSON."""
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept
