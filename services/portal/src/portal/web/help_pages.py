"""Help pages. For anyone signed in: "Batch file formats", every field of a batch file in each format, and a template of
each to download (`portal.batch_files`). For anyone at all, signed in or not, linked from every page's footer: the
accessibility statement, what the portal keeps about people (privacy), and how to reach the LRS service desk, whose
details are settings (PORTAL_SUPPORT_EMAIL, _PHONE, _HOURS). In the Sandpit too, under /sandpit: the same pages, their
links kept there."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from lrs_contracts.batch import BatchFormat
from lrs_domain.identifiers import display_qan
from lrs_platform.clock import today_in_england
from lrs_platform.http import DATABASE_UNAVAILABLE
from portal.accounts import Role
from portal.auth import SignedIn
from portal.backend import KeyRejected
from portal.batch_files import (
    JSON_TOP_LEVEL_KEYS,
    LIMITS,
    PLACEHOLDERS,
    QUALIFICATION_PLACEHOLDER,
    REFUSED_FILE_HEADING,
    REFUSED_FILE_MESSAGES,
    TEMPLATE_MEDIA_TYPES,
    header_guide,
    record_guide,
    template,
    template_filename,
    template_qualification,
)
from portal.checking import format_named
from portal.store import UPLOADS_WAITING_A_PERSON
from portal.web.auth_pages import FORM_COOKIE_SECONDS
from portal.web.common import (
    SANDPIT,
    PageError,
    User,
    calls,
    in_sandpit,
    maintenance_schedule,
    portal_of,
    render,
    see_other,
)

router = APIRouter(include_in_schema=False)

BATCH_FILES = "/help/batch-files"
ACCESSIBILITY = "/help/accessibility"
PRIVACY = "/help/privacy"
CONTACT = "/help/contact"
UPLOADS_KEPT_HOURS = 2  # bootstrap's sweep forgets uploads (and forms that act once) this long after they came
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*(.+?)\*\*")


def _inline(text: str) -> str:
    escaped = str(escape(" ".join(text.split())))
    return _STRONG.sub(r"<strong>\1</strong>", _CODE.sub(r"<code>\1</code>", escaped))


def markdown_html(text: str) -> Markup:
    """The Markdown docs/batch-files.md shares with the help page, as GOV.UK HTML: paragraphs, and lists whose items
    start "- " (their lines after the first indented), holding `code` and **strong** text; nothing else."""
    blocks = []
    for block in text.strip().split("\n\n"):
        if block.startswith("- "):
            items = "\n".join(f"<li>{_inline(item)}</li>" for item in re.split(r"^- ", block, flags=re.M) if item)
            blocks.append(f'<ul class="govuk-list govuk-list--bullet">\n{items}\n</ul>')
        else:
            blocks.append(f'<p class="govuk-body">{_inline(block)}</p>')
    return Markup("\n".join(blocks))  # noqa: S704 - every piece of text escaped above


def _templates_for(request: Request, user: User) -> tuple[dict[BatchFormat, bytes], dict[str, str] | None]:
    """The templates for the signed-in person's AO (placeholders for someone of no AO, or an AO none of whose
    qualifications the catalogue holds), and the qualification their record is for (None: the placeholder)."""
    ao_id, catalogue, today = user.account.ao_id, portal_of(request).catalogue, today_in_england()
    templates = {fmt: template(fmt, ao_id, catalogue, today) for fmt in BatchFormat}
    qualification = template_qualification(catalogue, ao_id)
    if qualification is None:
        return templates, None
    return templates, {"number": display_qan(qualification.qualification_number), "title": qualification.title}


async def batch_files_page(request: Request, user: User) -> HTMLResponse:
    templates, qualification = _templates_for(request, user)
    context = {
        "header_fields": header_guide(),
        "record_fields": record_guide(),
        "limits": LIMITS,
        "refused_file_heading": REFUSED_FILE_HEADING,
        "refused_file_messages": markdown_html(REFUSED_FILE_MESSAGES),
        "json_keys": JSON_TOP_LEVEL_KEYS,
        "templates": {fmt.value: content.decode() for fmt, content in templates.items()},
        "template_qualification": qualification,
        "formats": tuple(TEMPLATE_MEDIA_TYPES),
        "placeholders": PLACEHOLDERS,
        "qualification_placeholder": QUALIFICATION_PLACEHOLDER,
    }
    return render(request, "batch_files.html", context, user=user)


async def batch_file_template(request: Request, extension: str, user: User) -> Response:
    fmt = format_named(extension)
    if fmt is None:
        raise PageError("not_found", "There are templates in CSV, XML and JSON only.")
    return Response(
        template(fmt, user.account.ao_id, portal_of(request).catalogue, today_in_england()),
        media_type=TEMPLATE_MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{template_filename(fmt)}"'},
    )


for prefix in ("", SANDPIT):
    router.add_api_route(f"{prefix}{BATCH_FILES}", batch_files_page, methods=["GET"])
    router.add_api_route(f"{prefix}{BATCH_FILES}/template.{{extension}}", batch_file_template, methods=["GET"])


async def _reader(request: Request) -> SignedIn | None:
    """Whoever reads a page that anyone may read: the signed-in person, who keeps their menu, or nobody. Nobody too
    when the portal's database is away: someone who cannot sign in then needs the service desk's details most."""
    portal = portal_of(request)
    try:
        return await portal.auth.session_for(request.cookies.get(portal.cookies.session_cookie))
    except DATABASE_UNAVAILABLE:
        return None


async def _schedule_for(request: Request, user: SignedIn) -> dict[str, Any] | None:
    """The maintenance banner's schedule for a signed-in reader, as every page after sign-in has it (`signed_in`).
    None rather than no page when their key is refused or a Sandpit page has no sandpit key of theirs yet: these
    pages are for people who cannot get further. Nobody signed in has no banner: the portal reads the schedule
    with the person's own key, and has none of its own."""
    try:
        return await maintenance_schedule(calls(request, user), user.account)
    except (KeyRejected, PageError):
        return None


async def _open_page(request: Request, template_name: str) -> Response:
    """A page for anyone; under /sandpit, shown as the Sandpit's only to an AO user of a portal with one (whose
    Sandpit pages link it), anyone else sent to the same page outside it."""
    portal, user = portal_of(request), await _reader(request)
    if in_sandpit(request) and (portal.sandpit is None or user is None or user.account.role is not Role.AO):
        return see_other(request.url.path.removeprefix(SANDPIT))
    if user is not None:
        request.state.maintenance = await _schedule_for(request, user)
    settings = portal.settings
    context = {
        "support_email": settings.support_email,
        "support_phone": settings.support_phone,
        "support_hours": settings.support_hours,
        "idle_minutes": settings.session_idle_minutes,
        "absolute_hours": settings.session_absolute_hours,
        "lockout_failures": settings.lockout_failures,
        "lockout_minutes": settings.lockout_minutes,
        "reset_link_minutes": settings.reset_link_minutes,
        "session_cookie": portal.cookies.session_cookie,
        "form_cookie": portal.cookies.sign_in_cookie,
        "form_cookie_minutes": FORM_COOKIE_SECONDS // 60,
        "uploads_kept_hours": UPLOADS_KEPT_HOURS,
        "uploads_waiting": UPLOADS_WAITING_A_PERSON,
    }
    return render(request, template_name, context, user=user)


async def accessibility_statement(request: Request) -> Response:
    return await _open_page(request, "help_accessibility.html")


async def privacy(request: Request) -> Response:
    return await _open_page(request, "help_privacy.html")


async def contact(request: Request) -> Response:
    return await _open_page(request, "help_contact.html")


for prefix in ("", SANDPIT):
    router.add_api_route(f"{prefix}{ACCESSIBILITY}", accessibility_statement, methods=["GET"])
    router.add_api_route(f"{prefix}{PRIVACY}", privacy, methods=["GET"])
    router.add_api_route(f"{prefix}{CONTACT}", contact, methods=["GET"])
