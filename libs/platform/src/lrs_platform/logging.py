"""structlog set-up: one JSON line per event, correlation ids from contextvars, no personal data.

The masking processor is the last line of defence: code should not log personal fields at all, but
if a name, a date of birth or a full ULN reaches a log call it is masked here.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from lrs_contracts.environments import Environment
from lrs_domain.identifiers import mask_uln as mask_uln  # shared by the services that mask a ULN they log or show

PERSONAL_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "givenname",
        "familyname",
        "name",
        "names",
        "date_of_birth",
        "dateofbirth",
        "dob",
        "email",
        "notification_email",
        "telephone",
    }
)
# A ULN is 10 digits standing alone; digits inside hex ids and longer numbers are left alone.
_ULN_LIKE = re.compile(r"(?<![0-9A-Za-z])([1-9][0-9]{5})([0-9]{4})(?![0-9A-Za-z])")
_DATE_LIKE = re.compile(r"(?<![0-9])(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9](?![0-9])")


def _mask_text(text: str) -> str:
    return _ULN_LIKE.sub(lambda match: "******" + match.group(2), text)


def _mask_value(key: str, value: Any) -> Any:
    if key.lower() in PERSONAL_KEYS:
        return "***"
    if isinstance(value, str):
        masked = _mask_text(value)
        return _DATE_LIKE.sub("****-**-**", masked) if "birth" in key.lower() else masked
    if isinstance(value, int) and not isinstance(value, bool) and 1_000_000_000 <= value <= 9_999_999_999:
        return mask_uln(str(value))
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, item) for item in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _mask_value(key, event_dict[key])
    return event_dict


def configure_logging(
    service: str, level: str = "info", json: bool | None = None, environment: Environment | None = None
) -> None:
    """Every line names its `service` and, given one, its `environment` (`live`, `sandpit`): the Sandpit runs the
    same services, and a line pasted into a ticket must say which one logged it."""
    use_json = (not sys.stdout.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper(), force=True)
    for noisy in ("aiokafka", "kafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    if environment is None:
        structlog.contextvars.unbind_contextvars("environment")
    else:
        structlog.contextvars.bind_contextvars(environment=environment.value)
    _route_standard_logging(service, environment, renderer)


def _route_standard_logging(service: str, environment: Environment | None, renderer: Any) -> None:
    """Lines logged through the standard library (aiokafka, asyncpg, uvicorn, faust) in the shape of the service's
    own: one JSON line each, a traceback inside it, with the logger's name, personal data masked."""

    def add_service(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["service"] = service
        if environment is not None:
            event["environment"] = environment.value
        return event

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            add_service,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    for handler in logging.getLogger().handlers:
        # Exactly the console handler basicConfig installed; test frameworks' own handlers are subclasses.
        if type(handler) is logging.StreamHandler:
            handler.setFormatter(formatter)
            # asyncpg's pool says "Failed to restore the pool connection floor", traceback and all, every few
            # seconds a pool while PostgreSQL is away; asyncio's accept loop "socket.accept() out of system resource"
            # with its traceback up to the listen backlog (2,048) times a second while the process has no file
            # descriptor left (EMFILE): ~1 MB of log a second, rotating away the lines that explain it
            handler.addFilter(RepeatsHeldBack(HELD_BACK_LIBRARIES))
            handler.addFilter(ErrorsSaidAsWarnings(KAFKA_CLIENT_LIBRARIES))


# The libraries whose repeated lines `RepeatsHeldBack` lets through once a minute (by logger name, and its children).
HELD_BACK_LIBRARIES = ("aiokafka", "kafka", "asyncpg", "asyncio")


class RepeatsHeldBack(logging.Filter):
    """A client library's line that repeats is let through once a minute per logger and message, saying how
    many like it were held back meanwhile: while the broker was away for 45 s, aiokafka logged "Unable connect
    to node with id 1" and its like ~100 times a second in every process, 57,000 error lines in all."""

    def __init__(self, libraries: tuple[str, ...], every_seconds: float = 60.0) -> None:
        super().__init__()
        self._libraries = libraries
        self._every = every_seconds
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}  # when let through last, how many held since

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._libraries):
            return True
        key, now = (record.name, record.msg), time.monotonic()
        let_through, held = self._seen.get(key, (None, 0))
        if let_through is not None and now - let_through < self._every:
            self._seen[key] = (let_through, held + 1)
            return False
        if held:
            record.msg = f"{record.msg} [and {held} more like it in the last {now - let_through:.0f} s]"  # type: ignore[operator]
        self._seen[key] = (now, 0)
        return True


# The Kafka client's loggers (and their children), whose errors are said as warnings (`ErrorsSaidAsWarnings`).
KAFKA_CLIENT_LIBRARIES = ("aiokafka", "kafka")


class ErrorsSaidAsWarnings(logging.Filter):
    """A client library's error line is said as a warning: aiokafka logs its connection and coordinator chatter at
    error ("Topic ... not found in cluster metadata", "Group Coordinator Request failed", "Unable connect to node")
    at every start and through any broker hiccup, so an alert on any error line fired at each start for no fault
    (tracer walk, finding 5). What the service makes of it is its own line (`consumer_restarting`,
    `batch_publish_failed`, a 503), at the level the fault deserves."""

    def __init__(self, libraries: tuple[str, ...]) -> None:
        super().__init__()
        self._libraries = frozenset(libraries)
        self._children = tuple(f"{library}." for library in libraries)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and (
            record.name in self._libraries or record.name.startswith(self._children)
        ):
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
