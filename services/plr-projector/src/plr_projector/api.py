"""HTTP entrypoints: the routers the app mounts, one module per route group. The PLR read API
(`plr_routes`, waiting as `read_your_writes` says), centre data intake (`centre_routes`), the operators' admin API
(`admin_routes`, to which `credential_routes` adds the credential keys' routes) and verifiable credentials
(`credential_routes`). The app answers an operation's refusal (`OperationError`) with `operation_problem`."""

from __future__ import annotations

from plr_projector.admin_routes import admin_router, operation_problem
from plr_projector.centre_routes import centre_router
from plr_projector.credential_routes import credential_router
from plr_projector.plr_routes import plr_router

__all__ = ["admin_router", "centre_router", "credential_router", "operation_problem", "plr_router"]
