"""Domain errors: a rule refused an action.

Every service raises a subclass of :class:`DomainError` (``PostError``, ``ActivityError``, ``RecordError``,
``ReportingError``, ``ChecklistError`` …). ``code`` is stable — tests, the JSON answers and the message
table below rely on it — ``message`` is the service's wording for people, and ``status`` the HTTP status a
view answers with when it shows the refusal.

Views never build the words or the JSON shape themselves: :func:`error_message` gives the text to show
(a message registered for the code wins over the service's wording, so the words can change in one place
without touching the service), :func:`error_json` the API answer ``{"code": …, "message": …}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import JsonResponse


class DomainError(Exception):
    """A rule refused the action. ``code`` is stable (tests, API); ``message`` is for people."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.status})"


# code → message shown instead of the service's own wording. Apps add theirs with register_messages().
_MESSAGES: dict[str, str] = {}


def register_messages(messages: Mapping[str, str]) -> None:
    """Register the people-facing message of some codes (lazy translations are fine)."""
    _MESSAGES.update(messages)


def error_message(exc: DomainError) -> str:
    """The text a view shows for a refused action."""
    return str(_MESSAGES.get(exc.code, exc.message))


def error_json(exc: DomainError, *, status: int | None = None) -> JsonResponse:
    """The API answer for a refused action: ``{"code", "message"}`` with the error's status."""
    return JsonResponse(
        {"code": exc.code, "message": error_message(exc)}, status=exc.status if status is None else status
    )
