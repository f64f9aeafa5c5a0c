"""`lrs learners sharing ULN`, with an operator's key, also says who linked providers to the learner (letting them
read the PLR) and who unlinked them, when and why: validation's sharing answer gives operators its latest link
changes (`link_changes`). A learner's or a provider's answer has none, and shows none."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import admin_commands
from lrs_cli.admin_commands import sharing_text
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN, MERGED = "1000000043", "7770000016"

_OPERATORS_VIEW: dict[str, Any] = {
    "uln": ULN,
    "ability_to_share": 1,
    "changes": [],
    "more": False,
    "link_changes": [
        {"uln": ULN, "ukprn": "10004567", "change": "unlinked", "changed_by": "operator:demo",
         "changed_at": "2026-12-07T22:32:41.131277Z", "reason": None},
        {"uln": ULN, "ukprn": "10004567", "change": "linked", "changed_by": "operator:demo",
         "changed_at": "2026-12-07T22:32:35.323220Z", "reason": None},
        {"uln": MERGED, "ukprn": "10009998", "change": "linked", "changed_by": "provider:10009998",
         "changed_at": "2026-12-01T09:00:00Z", "reason": "the provider registered the learner"},
    ],
    "more_link_changes": False,
}  # fmt: skip


class _Validation:
    sandpit = False

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "validation"
        return httpx.Client(base_url="http://validation", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json=self.answer)


def test_an_operator_is_shown_who_linked_and_unlinked_which_provider_when(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = _Validation(_OPERATORS_VIEW)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: validation)

    assert main(["learners", "sharing", ULN]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        f"learner {ULN} shares their PLR: learning providers linked to them can see it",
        "their sharing never changed since the learner was registered",
        "providers linked to the learner and unlinked, newest first:",
        "  unlinked from provider 10004567 by operator:demo on 7 Dec 2026, 22:32 (UK time)",
        "  linked to provider 10004567 by operator:demo on 7 Dec 2026, 22:32 (UK time)",
        f"  linked to provider 10009998 by provider:10009998 on 1 Dec 2026, 09:00 (UK time), under ULN {MERGED}:"
        " the provider registered the learner",
    ]
    assert [request.url.path for request in validation.sent] == [f"/v1/learners/{ULN}/sharing"]


def test_json_gives_the_link_changes_as_validation_answers_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(admin_commands, "connection", lambda ctx: _Validation(_OPERATORS_VIEW))

    assert main(["learners", "sharing", ULN, "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out)["link_changes"] == _OPERATORS_VIEW["link_changes"]


def test_older_link_changes_kept_are_said_and_none_kept_is_said_too() -> None:
    older = sharing_text({**_OPERATORS_VIEW, "more_link_changes": True})
    none = sharing_text({**_OPERATORS_VIEW, "link_changes": []})

    assert older.splitlines()[-1] == (
        "  and older link changes: only the latest 3 are shown"
        f" (GET /v1/admin/learners/{ULN}/link-changes lists them all)"
    )
    assert none.splitlines()[-1] == (
        "no provider's link to the learner was made or ended since link changes began to be kept"
    )


@pytest.mark.parametrize("link_changes", [None, "absent"])
def test_a_learners_or_providers_answer_shows_no_link_changes(link_changes: str | None) -> None:
    view = {"uln": ULN, "ability_to_share": 1, "changes": [], "more": False}
    if link_changes is None:
        view |= {"link_changes": None, "more_link_changes": False}

    assert sharing_text(view).splitlines() == [
        f"learner {ULN} shares their PLR: learning providers linked to them can see it",
        "their sharing never changed since the learner was registered",
    ]
