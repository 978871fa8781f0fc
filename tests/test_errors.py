"""One domain error base (``jinshequ.core.errors``): every app's error is a DomainError with a stable code,
views show its message through one helper and the API answers ``{"code", "message"}``."""

import json

import pytest
from django.test import RequestFactory

from jinshequ.activities.records import RecordError
from jinshequ.activities.services import ActivityError
from jinshequ.core import errors
from jinshequ.core.errors import DomainError, error_json, error_message
from jinshequ.core.http import wants_json
from jinshequ.members.reporting import ReportingError
from jinshequ.posts.services import PostError
from jinshequ.supervision.services import ChecklistError


@pytest.mark.parametrize("cls", [ActivityError, ChecklistError, PostError, RecordError, ReportingError])
def test_every_app_error_is_a_domain_error_with_code_message_and_status(cls):
    exc = cls("some_code", "说明", status=409)
    assert isinstance(exc, DomainError)
    assert (exc.code, exc.message, exc.status, str(exc)) == ("some_code", "说明", 409, "说明")
    assert cls("x", "y").status == 400


def test_backstop_stays_on_the_errors_that_had_it():
    assert PostError("post_full", "满", backstop=True).backstop is True
    assert ActivityError("full", "满").backstop is False


def test_error_message_prefers_a_registered_message_for_the_code(monkeypatch):
    monkeypatch.setattr(errors, "_MESSAGES", {})
    exc = PostError("post_full", "服务里的说法")
    assert error_message(exc) == "服务里的说法"
    errors.register_messages({"post_full": "岗位已满。"})
    assert error_message(exc) == "岗位已满。"


def test_error_json_answers_code_and_message_with_the_status():
    response = error_json(ActivityError("outside_window", "不在签到时间内。", status=409))
    assert response.status_code == 409
    assert json.loads(response.content) == {"code": "outside_window", "message": "不在签到时间内。"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", True),
        ("text/html,application/xhtml+xml,application/json;q=0.9", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_wants_json_only_when_json_is_asked_for_without_html(accept, expected):
    request = RequestFactory().get("/", HTTP_ACCEPT=accept)
    assert wants_json(request) is expected
