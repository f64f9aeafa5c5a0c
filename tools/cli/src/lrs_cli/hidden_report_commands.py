"""`lrs learners hidden-reports`: the centre reports the PLR hides because the provider's registration link ended
(decision 0121), read from the PLR service, and how an operator shows them again (`lrs learners link`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from lrs_cli.client import Connection, read_page
from lrs_cli.identifiers import uln_value
from lrs_cli.listing import EveryOption, every_page
from lrs_cli.output import JsonOption, PageLimit, connection, print_listing, print_text, stderr, tell_more

_UKPRN = re.compile(r"[0-9]{8}")


def _ukprn_value(value: str | None) -> str | None:
    if value is not None and not _UKPRN.fullmatch(value):
        raise typer.BadParameter("a UKPRN is 8 digits, like 10004567")
    return value


HIDDEN_REPORTS_PAGE = 1_000  # the largest page the PLR service serves


def hidden_reports(
    connection: Connection, uln: str | None, ukprn: str | None, limit: int = 100, after: str | None = None
) -> dict[str, Any]:
    """A page of the links that ended with centre reports the PLR now hides: `links` (ULNs masked), the
    `hidden_reports` of them all, whether there are `more` after it and where the next page starts (`next`)."""
    return read_page(
        connection, "plr_projector", "/v1/admin/centre-reports/hidden", limit=limit, after=after, uln=uln, ukprn=ukprn
    )


def _link_row(link: dict[str, Any]) -> tuple[str, ...]:
    return link["uln"], link["master_uln"], link["provider_ukprn"], str(link["hidden_reports"])


def relink_hint(page: dict[str, Any], *, sandpit: bool) -> str:
    """The last line under the table: how many reports are hidden, and how an operator shows a provider's again."""
    count = page["hidden_reports"]
    hidden = f"{count} centre report{'' if count == 1 else 's'} hidden{' on this page' if page.get('next') else ''}"
    where = " on live, without --sandpit (the Sandpit follows live's links)" if sandpit else ""
    return (
        f"{hidden}. Once a learner is truly that provider's, show its reports again: lrs learners link ULN --ukprn N"
        f"{where}, with the learner's full ULN (masked here)"
    )


def hidden_reports_command(
    ctx: typer.Context,
    uln: Annotated[
        str | None, typer.Option(help="Only this learner's (any of their ULNs).", callback=uln_value)
    ] = None,
    ukprn: Annotated[str | None, typer.Option(help="Only this provider's (8 digits).", callback=_ukprn_value)] = None,
    limit: PageLimit = 100,
    after: Annotated[
        str | None, typer.Option(help="Continue a list: the position the previous page's last line gave.")
    ] = None,
    every: EveryOption = False,
    as_json: JsonOption = False,
) -> None:
    """Operator (the registry or support scope): the providers whose link to a learner ended (a learner file, a
    merge, or `lrs learners unlink`) and that are linked to none of the learner's ULNs now, with how many of their
    centre reports the PLR hides (kept, not shown: decision 0121), by provider. ULNs are masked, as in the logs of
    the import, merge or unlink that ended the link. A page at a time: a full page ends with "more: … --after
    POSITION" on stderr; --all reads every page."""
    to_projector = connection(ctx)
    if every:
        page = every_page(
            lambda at: hidden_reports(to_projector, uln, ukprn, HIDDEN_REPORTS_PAGE, at),
            "links",
            after,
            summed=("hidden_reports",),
        )
    else:
        page = hidden_reports(to_projector, uln, ukprn, limit, after)
    columns = ("ULN", "master ULN", "provider", "hidden reports")
    none = "no centre reports hidden: no provider with reports for a learner has had its link ended"
    print_listing(page["links"], as_json=as_json, columns=columns, row=_link_row, none=none)
    if page.get("next"):
        tell_more(page["next"])
    elif page["more"]:  # a PLR service from before its pages (it said only that there were more)
        stderr().print(
            f"more than {limit}: narrow with --ukprn or --uln, or raise --limit (at most 1000)", markup=False
        )
    if page["links"] and not as_json:
        print_text(relink_hint(page, sandpit=to_projector.sandpit))
