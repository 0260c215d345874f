"""Structured logging: ``text`` for people, ``json`` (one object per line) for machines."""

from __future__ import annotations

import logging
import re
import sys
import time

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_QUERY_VALUE = re.compile(r"=[^&\s\"]*")


def redact_query(text: str) -> str:
    """``/path?token=abc&format=json`` -> ``/path?token=…&format=…``: query values can be
    credentials (the SDKs' ``token``), so no log line carries them."""
    path, sep, query = text.partition("?")
    if not sep:
        return text
    return path + sep + _QUERY_VALUE.sub("=…", query)


# Per-connection WebSocket lines logged at INFO on "uvicorn.error" (by uvicorn, and by the
# websockets protocol object uvicorn hands that logger to).
_WS_ACCESS_FORMATS = (
    '%s - "WebSocket %s" [accepted]',
    '%s - "WebSocket %s" 403',
    '%s - "WebSocket %s" %d',
    "connection open",
    "connection closed",
)


class AccessFilter(logging.Filter):
    """On uvicorn's loggers: drop the per-connection access lines unless ``access_log`` is
    on, and take the values out of every logged URL's query string."""

    def __init__(self, access_log: bool) -> None:
        super().__init__()
        self.access_log = access_log

    def filter(self, record: logging.LogRecord) -> bool:
        access = record.name == "uvicorn.access" or (
            record.levelno <= logging.INFO and record.msg in _WS_ACCESS_FORMATS
        )
        if access and not self.access_log:
            return False
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "?" in a for a in record.args):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def setup(level: str = "info", fmt: str = "text", access_log: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    access = AccessFilter(access_log)
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, AccessFilter)]:
            logger.removeFilter(old)
        logger.addFilter(access)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if access_log else logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(max(logging.INFO, root.level))
