"""A learner file's refusals say what a CSV batch's say, naming what to fix where it is: a file in UTF-16 or UTF-32 is
named so, a byte that is not UTF-8 by its value, line and field (not a byte offset no editor shows); a row merging
its ULN into a MasterULN no learner is registered under names that ULN (masked) and the row's line. And a learner
registered through the API with a JSON body is read as every JSON body is (`lrs_platform.http`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import RegistryImport, UnregisteredInMergeError

HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"
ULN, MASTER, OTHER = "1000000043", "6936002314", "5555555554"
SAVE = ": save the file as CSV UTF-8 (in Excel, 'CSV UTF-8 (Comma delimited)')"


class Registry:
    """The registry the import and registration routes reach: takes the learners, or refuses a merge whose master
    is not registered, as the real one does."""

    def __init__(self) -> None:
        self.imported: list[Learner] = []

    async def register_learners(self, learners: Sequence[Learner], *, imported_by: str) -> RegistryImport:
        for learner in learners:
            if learner.master_uln is not None and learner.master_uln not in {held.uln for held in learners}:
                raise UnregisteredInMergeError(learner.master_uln, learner.uln, learner.master_uln)
        self.imported.extend(learners)
        return RegistryImport(new=len(learners), updated=0, unchanged=0, merged=0)

    async def register_learner(self, learner: Learner, registered_by_provider: str | None) -> bool:
        self.imported.append(learner)
        return True


def _client(registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def _imported(content: bytes) -> httpx.Response:
    async with _client(Registry()) as client:
        return await client.post("/v1/learners/import", content=content, headers={"content-type": "text/csv"})


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            (HEADER + f"{ULN},Ann,Door,,0,1,\n").encode("utf-16"),
            f"line 1, column 1: the file is UTF-16, not UTF-8{SAVE}",
        ),
        (
            (HEADER + f"{ULN},Ann,Door,,0,1,\n").encode("utf-32"),
            f"line 1, column 1: the file is UTF-32, not UTF-8{SAVE}",
        ),
        (
            (HEADER + f"{ULN},Ann,Door,,0,1,\n").encode("utf-16-le"),
            f"line 1, column 1: the file looks like UTF-16 without a byte order mark, not UTF-8{SAVE}",
        ),
        (
            (HEADER + f"{OTHER},Cal,Test,,0,1,\n{ULN},Siân,Door,,0,1,\n").encode("cp1252"),
            f"line 3, column 2: byte 0xE2 is not UTF-8{SAVE}",
        ),
    ],
    ids=["utf-16", "utf-32", "utf-16-no-bom", "windows-1252"],
)
async def test_a_file_not_in_utf8_is_named_as_a_batch_is(content: bytes, said: str) -> None:
    answer = await _imported(content)

    assert answer.status_code == 422, answer.text
    assert answer.json()["title"] == "Unreadable learner file"
    assert answer.json()["detail"] == said


async def test_a_byte_order_mark_is_still_left_out() -> None:
    answer = await _imported(("\ufeff" + HEADER + f"{ULN},Ann,Door,,0,1,\n").encode())

    assert answer.status_code == 201, answer.text


async def test_a_master_uln_not_registered_is_named_with_the_rows_line() -> None:
    answer = await _imported(
        (HEADER + f"{OTHER},Cal,Test,,0,1,\n\n" + f'{ULN},"Ann",Door,2001-02-03,1,1," {MASTER}"\n').encode()
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["title"] == "Unknown learner in a merge"
    assert answer.json()["detail"] == (
        "line 4: MasterULN ******2314 is not a registered learner: a ULN is merged only into a registered learner"
        " (name the master on a row of its own, in this file or an earlier one). Nothing in the file was registered."
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"uln": "1000000043", "given_name": "Li\\ud800ly", "family_name": "Door"}', "body.given_name: holds a"),
        ('{"uln": "1000000043", "given_name": "Ann", "family_name": "Door"}'.encode("utf-16"), "is UTF-16, not UTF-8"),
        ('{"uln": "1000000043", "given_name": "Siân", "family_name": "Door"}'.encode("latin-1"), "byte 0xE2 is not"),
        (b'{"uln": 1' + b"0" * 5_000 + b', "given_name": "Ann", "family_name": "Door"}', "5,001 digits is too long"),
    ],
    ids=["lone-surrogate", "utf-16", "latin-1", "long-number"],
)
async def test_a_registrations_body_is_read_as_every_json_body_is(body: bytes, said: str) -> None:
    registry = Registry()
    async with _client(registry) as client:
        answer = await client.post("/v1/learners", content=body, headers={"content-type": "application/json"})

    assert answer.status_code == 422, answer.text
    assert said in answer.json()["detail"]
    assert "expected value" not in answer.json()["detail"]
    assert registry.imported == []


async def test_a_registrations_body_after_a_byte_order_mark_is_read() -> None:
    registry = Registry()
    body = b'\xef\xbb\xbf{"uln": "1000000043", "given_name": "Ann", "family_name": "Door"}'
    async with _client(registry) as client:
        answer = await client.post("/v1/learners", content=body, headers={"content-type": "application/json"})

    assert answer.status_code == 201, answer.text
    assert [learner.uln for learner in registry.imported] == [ULN]
