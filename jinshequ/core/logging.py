"""Log filters: attach the request id; mask anything that looks like an ID number or phone (R23).

The application never logs personal data on purpose; ``MaskSensitiveFilter`` is the safety net
for what slips through (a value inside an exception message, a URL, an ``extra``): it masks the
message, string ``extra`` values and the formatted traceback.
"""

from __future__ import annotations

import logging
import re

from jinshequ.core.middleware import request_id_var

_ID_RE = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{3}[\dXx])(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def mask_text(text: str) -> str:
    text = _ID_RE.sub(lambda m: f"{m.group(1)}**********{m.group(2)}", text)
    return _PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class MaskSensitiveFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as it is rather than drop it
            message = str(record.msg)
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, mask_text(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class DropTemplateLookupNoise(logging.Filter):
    """Drop ``django.template``'s DEBUG records about failed variable lookups.

    Django logs every missing template variable at DEBUG with the exception attached, and that
    exception's message is the repr of the *whole template context*: a revealed ID number, the
    form data a user just typed. The records carry nothing else of value, so they never leave the
    logger (a handler-level mask would not reach ``exc_info``, which e.g. error trackers read).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG or not record.exc_info:
            return True
        from django.template.base import VariableDoesNotExist

        return not isinstance(record.exc_info[1], VariableDoesNotExist)


def install_logger_filters() -> None:
    """Attach the logger-level filters (called from ``CoreConfig.ready``; idempotent)."""
    logger = logging.getLogger("django.template")
    if not any(isinstance(f, DropTemplateLookupNoise) for f in logger.filters):
        logger.addFilter(DropTemplateLookupNoise())
