"""The one place where credentials are removed from text that may be printed, logged or stored.

Every :class:`~imagedataextractor.harvest.config.Secret` registers its value here when it is made.
From then on each log record of every logger (third-party ones included: urllib3 logs request URLs,
query and all, at debug level) has its message, traceback and stack text passed through
:func:`redact` as it is created, whatever handler later shows or writes it; error messages that
reach the user pass through it too. Values are replaced by ``***``, and so are the values of
credential query parameters (``api_key=...``) and headers (``X-ELS-APIKey: ...``), known or not.
"""

from __future__ import annotations

import logging
import re
import threading

#: Query parameters that carry credentials.
SECRET_PARAMS = frozenset({"api_key", "apikey", "insttoken", "access_token", "authtoken"})
#: Headers that carry credentials.
SECRET_HEADERS = frozenset({"x-els-apikey", "x-els-insttoken", "authorization"})
#: Shorter values are not searched for in free text (a placeholder such as "demo" would mangle
#: paths); they are still hidden where they stand as a parameter or header value.
MIN_SECRET_LENGTH = 6

_PARAM = re.compile(r"(?i)\b(" + "|".join(sorted(SECRET_PARAMS)) + r")=[^&\s\"'#<>]+")
_HEADER = re.compile(r"(?i)\b(" + "|".join(sorted(SECRET_HEADERS)) + r")(['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}&]+")
_secrets: tuple[str, ...] = ()
_lock = threading.Lock()
_installed = False


def register_secret(value: str) -> None:
    """Redact ``value`` from all text from now on (and start redacting log records)."""
    global _secrets
    if len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            if value not in _secrets:
                # longest first, so that a key containing another is hidden whole
                _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))
    _install_log_redaction()


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential parameter or header value as ``***``."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    text = _PARAM.sub(r"\1=***", text)
    return _HEADER.sub(r"\1\2***", text)


def _install_log_redaction() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        make_record = logging.getLogRecordFactory()
        formatter = logging.Formatter()

        def redacting_record(*args, **kwargs) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a malformed call: logging reports it when formatting
                return record
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, ()
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(formatter.formatException(record.exc_info))
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
            return record

        logging.setLogRecordFactory(redacting_record)
