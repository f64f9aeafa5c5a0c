"""`lrs learners hidden-reports [--uln ULN] [--ukprn N] [--limit 100] [--json]`: the centre reports the PLR hides
because the provider's registration link ended (decision 0121), read from the PLR service's
`GET /v1/admin/centre-reports/hidden` as a table, with how an operator shows them again (`lrs learners link`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import hidden_report_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN = "1000000043"
LINKS = [
    {"uln": "******0094", "master_uln": "******0043", "provider_ukprn": "10000002", "hidden_reports": 2},
    {"uln": "******7595", "master_uln": "******7595", "provider_ukprn": "10009998", "hidden_reports": 1},
]


class Projector:
    """The PLR service as an operator's key reaches it: what it was sent, and the page it answers."""

    def __init__(
        self, links: list[dict[str, Any]], *, more: bool = False, sandpit: bool = False, next: str | None = None
    ) -> None:
        self.page: dict[str, Any] = {
            "links": links,
            "hidden_reports": sum(link["hidden_reports"] for link in links),
            "more": more or next is not None,
        }
        if next is not None or not more:  # a PLR service from before its pages said `more` alone
            self.page["next"] = next
        self.sandpit = sandpit
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if (request.url.host, request.url.path) == ("plr_projector", "/v1/admin/centre-reports/hidden"):
            return httpx.Response(200, json=self.page)
        return httpx.Response(404, json={"title": "Not Found", "status": 404, "detail": "Not Found"})


def _lrs(monkeypatch: pytest.MonkeyPatch, projector: Projector, *args: str) -> int:
    monkeypatch.setattr(hidden_report_commands, "connection", lambda ctx: projector)
    return main(["learners", "hidden-reports", *args])


def test_a_table_of_each_ended_link_then_how_to_link_the_provider_again(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(LINKS)

    code = _lrs(monkeypatch, projector, "--uln", ULN, "--ukprn", "10000002", "--limit", "5")

    assert code == ExitCode.OK
    [request] = projector.sent
    assert dict(request.url.params) == {"uln": ULN, "ukprn": "10000002", "limit": "5"}
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "ULN" in line)
    assert [word in header for word in ("ULN", "master ULN", "provider", "hidden reports")] == [True] * 4
    assert "******0094" in out and "******0043" in out and "10000002" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("3 centre reports hidden.")
    assert "lrs learners link ULN --ukprn N" in last and "full ULN" in last
    assert "--sandpit" not in last


def test_everyone_by_default_and_as_json_the_links_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(LINKS)

    assert _lrs(monkeypatch, projector, "--json") == ExitCode.OK

    assert dict(projector.sent[0].url.params) == {"limit": "100"}
    assert json.loads(capsys.readouterr().out) == LINKS


def test_a_full_page_says_how_to_read_the_next_on_stderr_and_after_reads_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The list had a limit and no pages: past the first 1000 an operator could not see the rest."""
    projector = Projector(LINKS[:1], next="MTAwMDAwMDJ8MQ")

    assert _lrs(monkeypatch, projector, "--ukprn", "10000002", "--limit", "1") == ExitCode.OK

    out, err = capsys.readouterr()
    assert err.strip() == "more: the same command with --after MTAwMDAwMDJ8MQ"
    # the page's count, not the list's: the pages after it hide more
    assert out.strip().splitlines()[-1].startswith("2 centre reports hidden on this page.")

    following = Projector(LINKS[1:])
    assert _lrs(monkeypatch, following, "--ukprn", "10000002", "--limit", "1", "--after", "MTAwMDAwMDJ8MQ") == 0
    [request] = following.sent
    assert dict(request.url.params) == {"ukprn": "10000002", "limit": "1", "after": "MTAwMDAwMDJ8MQ"}
    out, err = capsys.readouterr()
    assert "******7595" in out and "more:" not in err


def test_as_json_a_full_page_still_says_where_the_next_starts_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(LINKS[:1], next="MTAwMDAwMDJ8MQ")

    assert _lrs(monkeypatch, projector, "--json", "--limit", "1") == ExitCode.OK

    out, err = capsys.readouterr()
    assert json.loads(out) == LINKS[:1]
    assert err.strip() == "more: the same command with --after MTAwMDAwMDJ8MQ"


def test_more_than_the_limit_from_a_service_without_pages_says_how_to_narrow_it_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(LINKS[:1], more=True)

    assert _lrs(monkeypatch, projector, "--limit", "1") == ExitCode.OK

    out, err = capsys.readouterr()
    assert "more than 1: narrow with --ukprn or --uln, or raise --limit" in err
    assert out.strip().splitlines()[-1].startswith("2 centre reports hidden.")


def test_none_hidden_says_so_and_no_link_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector([])

    assert _lrs(monkeypatch, projector) == ExitCode.OK

    out = capsys.readouterr().out
    assert out.startswith("no centre reports hidden")
    assert "lrs learners link" not in out


def test_in_the_sandpit_the_link_is_made_on_live(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(LINKS[1:], sandpit=True)

    assert _lrs(monkeypatch, projector) == ExitCode.OK

    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("1 centre report hidden.")
    assert "on live, without --sandpit" in last


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--uln", "1000000044"], "check digit of ULN 1000000044"),
        (["--ukprn", "1000"], "a UKPRN is 8 digits"),
        (["--limit", "0"], "--limit"),
        (["--limit", "1001"], "--limit"),
    ],
)
def test_a_mistyped_uln_ukprn_or_limit_is_a_usage_error_and_nothing_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    projector = Projector(LINKS)

    assert _lrs(monkeypatch, projector, *args) == ExitCode.USAGE
    assert projector.sent == []
    assert said in capsys.readouterr().err


def test_the_disclosures_uln_option_says_it_follows_merges(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["learners", "disclosures", "--help"]) == ExitCode.OK

    helped = " ".join(capsys.readouterr().out.split())
    assert "Only the copies of this learner's data: asked under this ULN or any ULN merged with it." in helped
