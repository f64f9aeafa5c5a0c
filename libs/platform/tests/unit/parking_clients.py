"""The shared dead-letter routes served around a test's office, for the parking API's tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.parking_api import router


def parking_app(office: Any, principal: str = "operator:ops") -> FastAPI:
    """The routes asking `office`, called by `principal`."""
    app = build_app("parking", title="Parking", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.dead_letter_office = office
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    return app


def parking_client(office: Any, principal: str = "operator:ops") -> httpx.AsyncClient:
    """A client of `parking_app(office, principal)`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=parking_app(office, principal)), base_url="http://parking"
    )
