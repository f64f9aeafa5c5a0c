"""`lrs learners import` says what the import did: a file that only merges learners says it merged them, not
that nothing changed; one that replaced the details a provider registered says it ended that provider's link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from lrs_cli.admin_commands import import_learners


class Answering:
    """A connection whose validation answers the import with `answer`."""

    sandpit = False

    def __init__(self, answer: dict[str, Any]) -> None:
        self._answer = answer

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(
            transport=httpx.MockTransport(lambda request: httpx.Response(201, json=self._answer)),
            base_url="http://validation",
        )


def test_an_import_that_merged_says_so(tmp_path: Path) -> None:
    file = tmp_path / "merge.csv"
    file.write_text("ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n", encoding="utf-8")
    merged = {"registered": 0, "updated": 0, "unchanged": 1, "merged": 1}

    said = import_learners(Answering(merged), str(file))  # type: ignore[arg-type]

    assert said == "registered 0 new learners; updated 0, unchanged 1; merged 1"
    plain = import_learners(Answering({**merged, "merged": 0}), str(file))  # type: ignore[arg-type]
    assert plain == "registered 0 new learners; updated 0, unchanged 1"


def test_an_import_that_ended_provider_links_says_so(tmp_path: Path) -> None:
    file = tmp_path / "learners.csv"
    file.write_text("ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n", encoding="utf-8")
    ended = {"registered": 0, "updated": 2, "unchanged": 0, "merged": 1, "provider_links_ended": 1}

    said = import_learners(Answering(ended), str(file))  # type: ignore[arg-type]

    assert said == (
        "registered 0 new learners; updated 2, unchanged 0; merged 1; ended 1 provider link made by registrations"
        " under the details it replaced (`lrs learners link` makes one again where the learner is truly that"
        " provider's)"
    )
    assert "provider link" not in import_learners(Answering({**ended, "provider_links_ended": 0}), str(file))  # type: ignore[arg-type]


def test_an_import_that_set_aside_a_squatters_sharing_choice_says_so(tmp_path: Path) -> None:
    file = tmp_path / "learners.csv"
    file.write_text("ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n", encoding="utf-8")
    reset = {"registered": 0, "updated": 1, "unchanged": 0, "provider_links_ended": 1, "sharing_choices_reset": 1}

    said = import_learners(Answering(reset), str(file))  # type: ignore[arg-type]

    assert said.endswith(
        "; set aside 1 choice to share only such a provider had made (the file's choice holds instead)"
    )
    assert "choice to share" not in import_learners(Answering({**reset, "sharing_choices_reset": 0}), str(file))  # type: ignore[arg-type]
