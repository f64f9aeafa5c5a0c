"""Help for anyone signed in: "Batch file formats", every field of a batch file in each format, and a template of
each to download (`portal.batch_files`). In the Sandpit too, under /sandpit: the same page, its links kept there."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from lrs_contracts.batch import BatchFormat
from portal.batch_files import (
    JSON_TOP_LEVEL_KEYS,
    LIMITS,
    PLACEHOLDERS,
    REFUSED_FILE_HEADING,
    REFUSED_FILE_MESSAGES,
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


async def batch_files_page(request: Request, user: User) -> HTMLResponse:
    context = {
        "header_fields": header_guide(),
        "record_fields": record_guide(),
        "limits": LIMITS,
        "refused_file_heading": REFUSED_FILE_HEADING,
        "refused_file_messages": markdown_html(REFUSED_FILE_MESSAGES),
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
