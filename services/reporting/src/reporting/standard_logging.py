"""Lines logged through the standard library (faust, mode, aiokafka, uvicorn) in the JSON shape that
structlog gives the service's own lines: event, level, timestamp, service, personal data masked, plus
the logger's name.

Faust is started from the FastAPI lifespan, not by `faust worker`, so mode never installs handlers of
its own: its services (`[^ReportingApp]: Starting...`) log through the root logger, whose plain
`%(message)s` handler `lrs_platform.logging.configure_logging` set up. That handler gets a structlog
formatter here.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from lrs_platform.logging import mask_personal_data


def route_standard_logging(service: str, json: bool | None = None) -> None:
    """Call after `configure_logging`."""
    use_json = (not sys.stdout.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()

    def add_service(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["service"] = service
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
        # Exactly the console handler configure_logging installed; test frameworks' own handlers are subclasses.
        if type(handler) is logging.StreamHandler:
            handler.setFormatter(formatter)
