"""Help for anyone signed in: "Batch file formats", every field of a batch file in each format, and a template of
each to download (`portal.batch_files`). In the Sandpit too, under /sandpit: the same page, its links kept there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from lrs_contracts.batch import BatchFormat
from portal.batch_files import (
    JSON_TOP_LEVEL_KEYS,
    LIMITS,
    PLACEHOLDERS,
    TEMPLATE_MEDIA_TYPES,
    header_guide,
    record_guide,
    template,
    template_filename,
)
from portal.checking import format_named
from portal.web.common import SANDPIT, PageError, User, render

router = APIRouter(include_in_schema=False)

BATCH_FILES = "/help/batch-files"


async def batch_files_page(request: Request, user: User) -> HTMLResponse:
    context = {
        "header_fields": header_guide(),
        "record_fields": record_guide(),
        "limits": LIMITS,
        "json_keys": JSON_TOP_LEVEL_KEYS,
        "templates": {fmt.value: template(fmt).decode() for fmt in BatchFormat},
        "formats": tuple(TEMPLATE_MEDIA_TYPES),
        "placeholders": PLACEHOLDERS,
    }
    return render(request, "batch_files.html", context, user=user)


async def batch_file_template(request: Request, extension: str, user: User) -> Response:
    fmt = format_named(extension)
    if fmt is None:
        raise PageError("not_found", "There are templates in CSV, XML and JSON only.")
    return Response(
        template(fmt),
        media_type=TEMPLATE_MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{template_filename(fmt)}"'},
    )


for prefix in ("", SANDPIT):
    router.add_api_route(f"{prefix}{BATCH_FILES}", batch_files_page, methods=["GET"])
    router.add_api_route(f"{prefix}{BATCH_FILES}/template.{{extension}}", batch_file_template, methods=["GET"])
