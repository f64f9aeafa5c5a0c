"""The only place that builds clients for the portal."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lrs_contracts.environments import Environment
from lrs_domain.reference import AwardingOrganisation, Catalogue
from lrs_domain.reference_files import load_catalogue, load_register
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool, database_reachable
from lrs_platform.http import build_app, readiness
from lrs_platform.logging import configure_logging, get_logger
from lrs_platform.mail import smtp_mailer
from lrs_platform.service import BackgroundTasks
from portal.accounts import LockoutPolicy
from portal.auth import Authentication, utc_now
from portal.backend import Services
from portal.config import PortalSettings
from portal.password_emails import PasswordEmails
from portal.reset_links import ResetLinkPolicy, ServiceDesk
from portal.sessions import CookiePolicy, SessionPolicy
from portal.store import MIGRATIONS, SCHEMA, AccountStore, ServiceKeys, SessionStore, UploadStore
from portal.web import (
    account_pages,
    admin_api,
    ao_pages,
    auth_pages,
    batch_pages,
    dashboard,
    erasure_pages,
    errors,
    help_pages,
    maintenance_pages,
    operator_pages,
    ops_learner_pages,
    qualification_pages,
    sandpit_pages,
    support_pages,
)
from portal.web.common import SECURITY_HEADERS, TEMPLATES, Portal
from portal.web.operator_pages import MAX_REPLACEMENT_CHARACTERS

SERVICE = "portal"
_SWEEP_SECONDS = 60.0
_UPLOADS_KEPT = timedelta(hours=help_pages.UPLOADS_KEPT_HOURS)  # as the privacy page says
_RESET_LINKS_COUNTED = timedelta(hours=1)

_log = get_logger("portal")


async def _sweep(auth: Authentication, accounts: AccountStore, uploads: UploadStore) -> None:
    """Ends expired sessions (revoking their service keys), forgets abandoned uploads, and reset links and
    the counts of requests for them once they no longer count towards an account's or a client's hourly share."""
    while True:
        try:
            ended = await auth.end_expired_sessions()
            await uploads.forget_older_than(utc_now() - _UPLOADS_KEPT)
            await accounts.forget_reset_links_before(utc_now() - _RESET_LINKS_COUNTED)
            await accounts.forget_link_requests_before(utc_now() - _RESET_LINKS_COUNTED)
            if ended:
                _log.info("sessions_expired", count=ended)
        except Exception as error:  # the database may be away for a while: try again next round
            _log.warning("sweep_failed", error=type(error).__name__)
        await asyncio.sleep(_SWEEP_SECONDS)


def _password_emails(
    settings: PortalSettings, accounts: AccountStore, ao_names: Mapping[str, str] | None = None
) -> PasswordEmails | None:
    """Links by email to choose a password, when the portal has a mail relay and its public address; the emails
    name the LRS service desk (`PORTAL_SUPPORT_*`) and an AO by its name in the register (`ao_names`) too."""
    if not settings.sends_reset_links:
        return None
    assert settings.smtp_host is not None and settings.public_url is not None
    mailer = smtp_mailer(settings.smtp_host, settings)
    policy = ResetLinkPolicy(
        settings.public_url,
        settings.mail_from,
        timedelta(minutes=settings.reset_link_minutes),
        settings.reset_links_per_hour,
        timedelta(hours=settings.first_link_hours),
        settings.reset_link_requests_per_client_per_hour,
        ServiceDesk(settings.support_email, settings.support_phone, settings.support_hours),
        ao_names or {},
    )
    return PasswordEmails(accounts, mailer, policy, send_within=settings.smtp_timeout_seconds)


def reference_of(settings: PortalSettings) -> tuple[Catalogue, dict[str, AwardingOrganisation]]:
    """The catalogue and the AO register of the reference files (`PORTAL_REFERENCE_DIR`, by default the shipped
    ones), as the portal reads them as it starts: `make restart`'s check (scripts/dev/check_settings.py) reads them
    the same way first."""
    reference = Path(settings.reference_dir) if settings.reference_dir else None
    return load_catalogue(reference), load_register(reference)


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_json, settings.environment)
    # httpx logs every URL it calls at INFO, and a PLR read carries the ULN in its query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    catalogue, register = reference_of(settings)
    ao_names = {ao_id: organisation.name for ao_id, organisation in register.items()}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=5)
        # The Sandpit's identity store, where each person's sandpit key is issued (decision 0060).
        sandpit_url = settings.sandpit_database_url if settings.has_sandpit else None
        sandpit_pool = await create_pool(sandpit_url, max_size=2) if sandpit_url else None
        client = httpx.AsyncClient(timeout=settings.service_timeout_seconds)
        tasks = BackgroundTasks()
        try:
            async with pool.acquire() as connection:
                await apply_migrations(connection, SCHEMA, MIGRATIONS)
            credentials = CredentialStore(pool)
            await credentials.migrate()
            app.state.credentials = credentials  # the admin API's operators authenticate like everywhere else
            keys = ServiceKeys(credentials)
            sandpit_keys = None
            if sandpit_pool is not None:
                sandpit_credentials = CredentialStore(sandpit_pool, environment=Environment.SANDPIT)
                await sandpit_credentials.migrate()
                sandpit_keys = ServiceKeys(sandpit_credentials)
            uploads = UploadStore(pool)
            accounts = AccountStore(pool)
            auth = Authentication(
                accounts,
                SessionStore(pool),
                keys,
                LockoutPolicy(settings.lockout_failures, timedelta(minutes=settings.lockout_minutes)),
                SessionPolicy(
                    timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_absolute_hours)
                ),
                sandpit_keys,
                register=register,
            )
            app.state.portal = Portal(
                settings=settings,
                auth=auth,
                services=Services.live(settings, client),
                uploads=uploads,
                keys=keys,
                catalogue=catalogue,
                cookies=CookiePolicy(secure=settings.cookie_secure),
                sandpit=Services.sandpit(settings, client) if settings.has_sandpit else None,
                password_emails=_password_emails(settings, accounts, ao_names),
                ao_names=ao_names,
            )
            readiness(app, postgres=lambda: database_reachable(pool))
            tasks.start(_sweep(auth, accounts, uploads), "portal-session-sweep")
            yield
        finally:
            await tasks.stop()
            with contextlib.suppress(Exception):
                await client.aclose()
            await pool.close()
            if sandpit_pool is not None:
                await sandpit_pool.close()

    app = build_app(
        SERVICE,
        title="LRS Organisation Portal",
        description=(
            "Web pages for awarding organisation staff and operators (not part of this document), and the"
            " operator-only account API behind `lrs users`."
        ),
        lifespan=lifespan,
        # A batch file's check bounds its upload itself (RS002, on the page); a dead letter's corrected copy is
        # up to 1,000,000 characters, form-encoded.
        body_limits={
            "/batches/check": None,
            "/sandpit/batches/check": None,
            "/ops/dead-letters": 4 * MAX_REPLACEMENT_CHARACTERS,
        },
    )
    errors.install(app)
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(_StaticCompressed)
    static = Path(str(resources.files("portal").joinpath("static")))
    # the pages load the files under their version (`static_root`), which may be kept for a year (portal.js's import
    # is relative, so it follows); an older version's address, asked by a page of a portal just replaced, is still
    # answered (as /static/ is, for anything that names it) but is asked again each time. Its digest is taken here, as
    # the portal starts, not as this module is imported: a portal started again on new files names them anew.
    app.state.static_root = f"/static/v/{_static_version(static)}"
    TEMPLATES.globals["static_root"] = app.state.static_root
    app.mount("/static/v/{version}", StaticFiles(directory=static), name="static-versioned")
    app.mount("/static", StaticFiles(directory=static), name="static")
    pages = (auth_pages, dashboard, batch_pages, ao_pages, sandpit_pages, help_pages, qualification_pages)
    operators_pages = (operator_pages, account_pages, erasure_pages, maintenance_pages, support_pages)
    for module in (*pages, *operators_pages, ops_learner_pages):
        app.include_router(module.router)
    app.include_router(admin_api.router)
    return app


# where a password-setting link points (auth_pages): its address holds the link's token
RESET_LINK_ADDRESSES = "/account/reset/"


def _static_version(static: Path) -> str:
    """A digest of every file under `static` (its path and bytes): a new portal.css, portal.js or govuk-frontend gets
    new addresses."""
    digest = hashlib.sha256()
    for file in sorted(path for path in static.rglob("*") if path.is_file()):
        digest.update(file.relative_to(static).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


# The static files under their version's address (`app.state.static_root`, its digest) never change: a browser keeps
# them for a year and asks for none of them again on the next page. Elsewhere under /static/ it asks whether they
# changed (304).
STATIC_KEPT = "public, max-age=31536000, immutable"
STATIC_CHECKED = "no-cache"


class _StaticCompressed:
    """Gzips the static files (govuk-frontend's CSS and script: 201 KB a cold visit, 33 KB gzipped). Not the pages:
    they carry the session's CSRF token next to what the address asked for (a filter, a search), and compressed
    together their length could give the token away to someone who watches the line (BREACH).

    A static file needs no session, so its request goes on without the browser's cookies: an error's page under
    /static/ (a 404) is nobody's, with no session read and no CSRF token in it. A gzipped file's ETag is weak
    (W/"…"), as its bytes are not the file's: Starlette's StaticFiles compares an If-None-Match weakly, so the browser
    is still answered 304, which says the same ETag the browser holds, and Vary: Accept-Encoding as the 200 did."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(name, value) for name, value in scope["headers"] if name != b"cookie"]}
        held = [tag.strip() for tag in Headers(scope=scope).get("if-none-match", "").split(",")]

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                etag = headers.get("etag")
                if message["status"] == 304:
                    headers.add_vary_header("Accept-Encoding")
                    if etag and not etag.startswith("W/") and f"W/{etag}" in held:  # the gzipped copy's
                        headers["ETag"] = f"W/{etag}"
                elif etag and not etag.startswith("W/") and headers.get("content-encoding") == "gzip":
                    headers["ETag"] = f"W/{etag}"
            await send(message)

        await self.gzip(scope, receive, send_marked)


class _SecurityHeaders:
    """Every answer's security headers (`SECURITY_HEADERS`; one that names its own policy keeps it, as the API
    documentation at /docs and /redoc does: ReDoc cannot work without inline styles), and the static files'
    Cache-Control. Plain ASGI, not `app.middleware("http")`: Starlette's BaseHTTPMiddleware ends a streamed body as if
    whole when the app fails partway through it, so a results download ingest broke off would be saved by the browser
    as a short file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if path.startswith(RESET_LINK_ADDRESSES):
                    # every answer there, its error pages too: a Referer would carry the token to the pages and files
                    # they load, through the portal's Ingress, which logs it (decision 0128's later notes)
                    headers["Referrer-Policy"] = "no-referrer"
                # a static file is kept by caches; an error there (no file) is kept by none, as every other answer
                cacheable = path.startswith("/static/") and message["status"] < 400
                if cacheable:
                    versioned = path.startswith(f"{scope['app'].state.static_root}/")
                    headers["Cache-Control"] = STATIC_KEPT if versioned else STATIC_CHECKED
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_marked)
