"""The learner registry routes: registrations, learner files, ability to share, provider links and merges.

The learner registry lives here because verification (RV004) must see a registration the moment it
is made; other services learn of learners from `lrs.learner.events.v1`.
"""

from __future__ import annotations

import asyncio
import csv
import re
import uuid
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final, Generic, Literal, Protocol, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from lrs_contracts.codes import LEARNER_IMPORT_BYTES, ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN, UkprnText
from lrs_contracts.learner import AbilityToShare
from lrs_contracts.text import (
    OneLineText,
    StorableText,
    WrittenDate,
    has_visible_text,
    lost_letter_in_name,
    unseen_in_name,
)
from lrs_domain.formats.csv_batch import _decode as decoded_csv
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.merges import LearnerMerges, MergedLearner
from lrs_domain.names import name_length, name_too_long
from lrs_domain.reference import Learner
from lrs_domain.rules import EARLIEST_BIRTH_DATE, MAX_NAME_LENGTH
from lrs_platform.authentication import CurrentPrincipal
from lrs_platform.clock import today_in_england
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger, mask_uln
from lrs_platform.paging import PagePosition, split_page
from lrs_platform.paging_api import PageAfter
from lrs_platform.problems import ProblemError, problem_responses
from validation.api_common import (
    Operator,
    Uln,
    import_under_way,
    json_body,
    learner_registry_of,
    no_learners_uln,
    read_body,
    wake_outbox,
)
from validation.learner_registry import (
    NAME_UNSEEN,
    AlreadyMergedError,
    DetailsCorrection,
    ErasedLearnerError,
    LearnerDetailsConflict,
    LearnerImportUnderWayError,
    LearnerRegistry,
    MergeCycleError,
    NothingToCorrectError,
    ProviderNoLongerLinkedError,
    RecordedLinkChange,
    Rectification,
    UnknownLearnerError,
    UnregisteredInMergeError,
    line_of_merge,
    parse_learners_csv,
    unlink_revoker,
)
from validation.registry_access import (
    may_change_sharing,
    may_register,
    may_see_link,
    who_changed_sharing,
)

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")
_NAME = (
    f"1 to {MAX_NAME_LENGTH} characters once trimmed, on one line; an accent written as its own combining mark"
    " counts with its letter (the name's composed form, NFC), as in a batch. Words are separated by one ordinary"
    " space, and nothing a reader cannot see is allowed (a no-break space, a TAB, a soft hyphen, a zero-width space:"
    " else 422 naming the character and its position), as a batch's name is RV021 for it"
)


def _a_number_not_a_truth_value(value: object) -> object:
    """JSON's `true` is not the choice 1, nor `"2"` the choice 2 (pydantic would read both so): a coded choice
    is sent as its number."""
    if isinstance(value, bool):
        raise ValueError("send the choice's number, not true or false")
    if isinstance(value, str):
        raise ValueError("send the choice's number, not text")
    return value


def _a_birth_date(value: date | None) -> date | None:
    """From 1900-01-01 to England's today, as the import reads it (`lrs_domain.reference_data.load_learners`)."""
    if value is not None and not EARLIEST_BIRTH_DATE <= value <= today_in_england():
        raise ValueError(f"expected a date of birth from {EARLIEST_BIRTH_DATE.isoformat()} to today")
    return value


def _a_name_of_allowed_length(name: str) -> str:
    """At most 35 characters counted as a batch's RV021 counts them (decision 0167), so that a name written
    decomposed is registered when the same name written composed would be."""
    if name_too_long(name, MAX_NAME_LENGTH):
        raise ValueError(f"the name is {name_length(name)} characters long: at most {MAX_NAME_LENGTH} are allowed")
    return name


def _a_name_a_reader_sees(name: str) -> str:
    """A name with a character a reader sees (`has_visible_text`, the rule a challenge's reason keeps), as a learner
    file's names (`parse_learners_csv`): one of invisible characters alone (a zero-width space) shows as a blank."""
    if not has_visible_text(name):
        raise PydanticCustomError("visible_text", NAME_UNSEEN)
    return name


def _a_name_as_it_reads(name: str) -> str:
    """Nothing a reader cannot see or tell from one ordinary space (`unseen_in_name`: a no-break space, a TAB, two
    spaces in a row, a soft hyphen, a zero-width space...), as a batch's name is RV021 for it and a learner file's is
    refused (`parse_learners_csv`): a learner registered so could be matched by no batch record, neither one written
    as registered (RV021) nor one written as the name reads (RV004). Named by character and position, never quoted."""
    if (unseen := unseen_in_name(name)) is not None:
        raise PydanticCustomError("name_unseen", "holds {unseen}", {"unseen": unseen})
    return name


def _a_name_with_no_lost_letter(name: str) -> str:
    """No '?' or U+FFFD (`lost_letter_in_name`), where a letter was lost when the file the name came from was saved
    in an encoding without it (Windows-1252 has no Welsh ŵ), as a batch's name is RV021 for it and a learner file's is
    refused (`parse_learners_csv`): no name is written with either, and a learner registered so could be matched by
    no batch record written as the name reads. Named by character and position, never quoted."""
    if (lost := lost_letter_in_name(name)) is not None:
        raise PydanticCustomError("name_letter_lost", "holds {lost}", {"lost": lost})
    return name


LearnerName = Annotated[
    OneLineText,
    AfterValidator(_a_name_a_reader_sees),
    AfterValidator(_a_name_with_no_lost_letter),
    AfterValidator(_a_name_as_it_reads),
    AfterValidator(_a_name_of_allowed_length),
]


class LearnerRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uln: Annotated[
        str,
        Field(
            pattern=ULN_PATTERN,
            description="10 digits, the last of them the check digit: else 422 `RV002` (`RV003` for 9999999999)",
        ),
    ]
    given_name: LearnerName = Field(min_length=1, description=_NAME)
    family_name: LearnerName = Field(min_length=1, description=_NAME)
    date_of_birth: Annotated[WrittenDate | None, AfterValidator(_a_birth_date)] = Field(
        default=None, description="`yyyy-mm-dd`, from 1900-01-01 to today (else 422, a value not repeated)"
    )
    gender: Annotated[Literal[0, 1, 2, 9], BeforeValidator(_a_number_not_a_truth_value)] = Field(
        default=0, description="0 not known, 1 male, 2 female, 9 not specified"
    )
    ability_to_share: Annotated[AbilityToShare, BeforeValidator(_a_number_not_a_truth_value)] = AbilityToShare.NOT_SEEN


class SharingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ability_to_share: Annotated[AbilityToShare, BeforeValidator(_a_number_not_a_truth_value)]


class SharingChangeView(BaseModel):
    ability_to_share: AbilityToShare
    changed_by: str = Field(
        description="to operators the principal (or `merge of <ULN>`); to others `you`, or who by kind: the learner,"
        " a learning provider linked to the learner (to the learner: `learning provider <UKPRN>, linked to you`), an"
        " LRS operator, the merge of the learner's ULNs; a change that set aside a choice only a provider whose"
        " registration named someone else had made says so"
    )
    changed_at: datetime


class LinkChangeView(BaseModel):
    uln: str = Field(description="the ULN of the learner's the link was to (the one asked for, or one merged with it)")
    ukprn: str
    change: Literal["linked", "unlinked"] = Field(
        description="`linked`: the provider was linked, and read the learner's PLR while they shared; `unlinked`: the"
        " link ended"
    )
    changed_by: str = Field(
        description="the principal: `provider:<UKPRN>` for the link its registration of the learner made, an"
        " operator's (`operator:<name>`), or, for a link a merge ended, the merge (who merged which ULNs)"
    )
    changed_at: datetime
    reason: str | None = Field(
        default=None,
        description="why, where the registry made the change itself (a registration, a learner file or a merge"
        " ending a registration's link); null for an operator's link or unlink",
    )


LATEST_SHARING_CHANGES: Final = 50
"""How many of a learner's latest changes of sharing their sharing answers with (decision 0166)."""


class SharingView(BaseModel):
    uln: str
    ability_to_share: AbilityToShare = Field(
        description="0 privacy notice not seen, 1 shares, 2 unable to share: what every read of the PLR applies"
    )
    changes: list[SharingChangeView] = Field(
        description=f"the latest {LATEST_SHARING_CHANGES} changes, newest first (since 2026-12)"
    )
    more: bool = Field(
        default=False,
        description=f"whether older changes are kept than the latest {LATEST_SHARING_CHANGES} shown: operators read"
        " them all with `/v1/admin/learners/{uln}/sharing-changes` (since 2026-12)",
    )
    link_changes: list[LinkChangeView] | None = Field(
        default=None,
        description=f"to operators only (null to anyone else): the latest {LATEST_SHARING_CHANGES} changes of providers'"
        " links to the learner under any of their ULNs, newest first, with who made each (since 2026-12)",
    )
    more_link_changes: bool = Field(
        default=False,
        description=f"to operators: whether older link changes are kept than the latest {LATEST_SHARING_CHANGES}"
        " shown; `/v1/admin/learners/{uln}/link-changes` pages through them all",
    )


class SurvivingSharingChanges(BaseModel):
    uln: str
    ulns: list[str] = Field(description="the ULN and the learner's other ULNs (merged with it), erased or not")
    erased: bool = Field(description="whether the learner was erased: the changes are all that is left of the choice")
    changes: list[SharingChangeView] = Field(
        description="the changes under any of the ULNs, newest first, `limit` at a time, with who made each (the"
        " principal)"
    )
    next: str | None = Field(
        default=None,
        description="where the next page of older changes starts: pass it as `after`; null on the last page",
    )


class LinkedProviderView(BaseModel):
    ukprn: str
    linked_since: datetime = Field(description="when the provider was first linked to one of the learner's ULNs")


class LinkedProviders(BaseModel):
    uln: str
    providers: list[LinkedProviderView] = Field(
        description="the providers linked to the learner, oldest link first: those that read their PLR while they"
        " share, report centre achievements for them and may change their ability to share. A provider is shown only"
        " its own link."
    )


class LinkChanges(BaseModel):
    uln: str
    ulns: list[str] = Field(description="the ULN and the learner's other ULNs (merged with it), erased or not")
    erased: bool = Field(description="whether the learner was erased: their links and these changes are kept")
    changes: list[LinkChangeView] = Field(
        description="the changes of providers' links under any of the ULNs, newest first, `limit` at a time"
    )
    next: str | None = Field(
        default=None,
        description="where the next page of older changes starts: pass it as `after`; null on the last page",
    )


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merged_uln: str = Field(pattern=ULN_PATTERN)


class MergedAlready(BaseModel):
    """The answer to a merge made before (200): a merge made now answers 204, with no body."""

    master_uln: str
    merged_uln: str = Field(description="merged into `master_uln` already, by an earlier merge or learner file")
    changed: Literal[False] = Field(
        default=False, description="always false: nothing was changed or published (decision 0158)"
    )


class SharingChosenAlready(BaseModel):
    """The answer to a choice its sender had made already (200): a change recorded now answers 204, with no body."""

    uln: str = Field(description="the ULN as named")
    ability_to_share: AbilityToShare = Field(description="the choice the learner has, as before")
    changed: Literal[False] = Field(
        default=False, description="always false: nothing was recorded or published (a retry, say)"
    )


class ProviderLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ukprn: UkprnText = Field(description="the provider linked to the learner")


class LearnersRegistered(BaseModel):
    registered: int = Field(description="Learners registered: new to the registry")
    updated: int = Field(default=0, description="Registered learners whose details the import replaced")
    unchanged: int = Field(
        default=0,
        description="Learners the import named with the details already held: nothing published for their details"
        " (a merge it made of one of them is counted in `merged`)",
    )
    merged: int = Field(default=0, description="Merges the import made: learners it merged into the master ULN given")


class LearnersImported(LearnersRegistered):
    provider_links_ended: int = Field(
        default=0,
        description="Providers' links the import ended: those a provider's own registration made, of learners no file"
        " had named before whose names or date of birth it replaced, or of a master ULN (MasterULN) no file has"
        " named, registered under other details than the learner the file merges into it (decision 0121). Such a"
        " provider no longer reads"
        " the learner's PLR; an operator links it again (`POST /v1/admin/learners/{uln}/providers`) if the learner is truly"
        " theirs. Until then the centre reports it made for the learner are not shown on their PLR.",
    )
    sharing_choices_reset: int = Field(
        default=0,
        description="Of those learners, how many had a choice to share that only the provider whose link ended had"
        " made since registering them: each is now what the file says (a master's, the choice of the learner merged"
        " into it), recorded as the import's change with why."
        " An opt-out is never reset so, that provider's neither (a file never removes one), nor a choice the"
        " learner, an operator or a merge made.",
    )


def _forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "Forbidden", detail)


def _not_registered() -> ProblemError:
    return ProblemError(
        404,
        "Learner not registered",
        "No learner is registered under this ULN: a provider registers them (POST /v1/learners), or an operator"
        " imports them.",
        code=ProblemCode.LEARNER_NOT_REGISTERED,
    )


def _erased(detail: str) -> ProblemError:
    return ProblemError(410, "Learner erased", detail, code=ProblemCode.LEARNER_ERASED)


async def _not_registered_or_erased(store: LearnerRegistry, uln: str, erased: str) -> ProblemError:
    """Why a ULN with no registered learner answers nothing: erased (410, `erased` saying what is gone), or never
    registered (404)."""
    return _erased(erased) if await store.erasures(uln) else _not_registered()


async def _providers_linked_to_erased(store: LearnerRegistry, uln: str) -> frozenset[str]:
    """The providers linked to the erased learner `uln` was one of the ULNs of: links outlive an erasure, and the
    learner's merges are followed through erased rows (`learners_for` leaves those out)."""
    return await store.linked_providers([uln, *await store.same_learner(uln)])


def _registered_not_by_you() -> ProblemError:
    """The one answer to a provider whose own registration of the ULN does not link it to the learner (never linked,
    linked by an operator, or its registration's link ended), whatever details it sent: true in each case, and the
    same whether they match or not, so it learns nothing of the registered details (decision 0121)."""
    return ProblemError(
        409,
        "Learner already registered",
        "This ULN is registered already, and no registration of yours links you to the learner now: registering it"
        " changes nothing, links you to no one and says nothing of the details registered. If you are not linked to"
        " the learner and should be, ask an operator to link you (`lrs learners link`).",
        code=ProblemCode.LEARNER_ALREADY_REGISTERED,
    )


_CSV_MEDIA_TYPES: Final = frozenset({"", "text/csv", "text/plain", "application/csv"})


def _refuse_unless_csv(content_type: str | None) -> None:
    """A learner file is CSV: a body labelled JSON, XML or a form is someone sending the wrong file or forgetting
    the label, and is refused (415), not read as CSV."""
    if (content_type or "").split(";", 1)[0].strip().lower() not in _CSV_MEDIA_TYPES:
        raise ProblemError(
            415,
            "Unsupported Media Type",
            "This route reads a CSV file of learners, and the body was labelled as something else: send the CSV file"
            " with Content-Type: text/csv.",
            code=ProblemCode.UNSUPPORTED_MEDIA_TYPE,
        )


def _refuse_mistyped(*ulns: str) -> None:
    for uln in ulns:
        no_learners_uln(uln, "Nothing was changed: use the learner's own ULN.")


@router.post(
    "/learners",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Register a new learner (providers, operators)",
    description=(
        "Registers a learner and links the calling provider to them: a linked provider reads the learner's PLR "
        "while they share, reports centre achievements for them and changes their ability to share (decision "
        "0121), until the register says the ULN is someone else's: while no learner file has named the learner, an "
        "operator's learner file giving other names or another date of birth (names trimmed and caseless; a date of "
        "birth only added or left out is not another), or an operator's merge of the ULN into a learner registered "
        "under other names or date of birth (or of a learner a file has named, under other details, into the ULN), "
        "ends the link; once a file has named the learner under the details "
        "registered, later corrections end nothing. The same details again (names compared case-insensitively, date of birth, gender) change "
        "nothing, link no one and answer 200 with `registered: 0`; other "
        "details for a registered ULN are refused with 409, and so is any registration of a registered ULN by a "
        "provider whose own registration of that ULN does not link it to the learner (one not linked, one an "
        "operator linked, one whose registration's link ended), whatever its details (it tells them nothing about "
        "the learner) — registered details are corrected only by an "
        "operator's import. An erased learner's ULN is 410 `LEARNER_ERASED` to an operator and to a provider linked to "
        "them, and the same 409 as any registered ULN to any other provider. Ability to share is changed through "
        "`/v1/learners/{uln}/sharing`, never here. A ULN "
        "whose check digit is wrong is refused with 422 `RV002` (decision 0132), as on every route naming a ULN, and "
        "the temporary ULN 9999999999 with 422 `RV003`: every batch record for it would be refused so."
    ),
    status_code=201,
    responses={
        200: {"model": LearnersRegistered, "description": "already registered with these details: nothing changed"},
        **problem_responses(401, 403, 409, 410, 422, 503),
        409: problem_responses(409)[409]
        | {
            "description": "LEARNER_ALREADY_REGISTERED: the ULN is registered with other details, or the calling"
            " provider's own registration of it does not link it to the learner; nothing was changed"
        },
    },
    openapi_extra=json_body(LearnerRegistration) | operator_scope(OperatorScope.REGISTRY),
)
async def register_learner(request: Request, principal: CurrentPrincipal, response: Response) -> LearnersRegistered:
    if not may_register(principal):
        if principal.kind is PrincipalKind.PROVIDER:
            raise _forbidden("A provider's key must name its 8-digit UKPRN: ask an operator for a new key.")
        raise _forbidden("Only providers and operators register learners.")
    registration = await read_body(request, LearnerRegistration)
    # in the handler, not the model: its own code (RV002/RV003), as every sibling route answers it, rather than
    # INVALID_REQUEST for a field; arithmetic on what was sent, so it tells nothing of any learner
    no_learners_uln(registration.uln, "Nothing was registered: use the learner's own ULN.")
    learner = Learner(
        uln=registration.uln,
        given_name=registration.given_name,
        family_name=registration.family_name,
        date_of_birth=registration.date_of_birth,
        gender=registration.gender,
        ability_to_share=int(registration.ability_to_share),
    )
    provider = principal.id if principal.kind is PrincipalKind.PROVIDER else None
    store = learner_registry_of(request)
    try:
        created = await store.register_learner(learner, registered_by_provider=provider)
        conflict = None
    except ErasedLearnerError as error:
        # a provider not linked to the learner is told only what any registered ULN tells it: not that they were
        # erased (every other route answers it 403 alike)
        if provider is not None and provider not in await _providers_linked_to_erased(store, learner.uln):
            raise _registered_not_by_you() from error
        raise _erased("This ULN's learner was erased: it is never registered again.") from error
    except LearnerDetailsConflict as error:
        created, conflict = False, error
    if (
        not created
        and provider is not None
        and provider not in await store.providers_linked_by_registration([learner.uln])
    ):
        # the same answer whether the details sent match or not, to any provider but the one whose own registration of
        # this ULN links it (it sent the details): else a provider with no link, or one an operator linked, could try
        # dates of birth one by one until one is "unchanged"
        raise _registered_not_by_you()
    if conflict is not None:
        raise ProblemError(
            409,
            "Learner already registered",
            "This ULN is registered with other details; registered details are never replaced by a registration."
            " Check the ULN, or ask an operator to correct the learner's details.",
            code=ProblemCode.LEARNER_ALREADY_REGISTERED,
        ) from conflict
    if not created:
        response.status_code = 200
        return LearnersRegistered(registered=0, unchanged=1)
    wake_outbox(request)
    return LearnersRegistered(registered=1)


@router.post(
    "/learners/import",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Register many learners from CSV (ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN)",
    description=(
        f"A file of at most {LEARNER_IMPORT_BYTES:,} bytes (413 `REQUEST_TOO_LARGE` beyond: split it). A registered"
        " learner's ability to share changes only where the file says something new about it since the last file,"
        " and a file never removes an opt-out (2): the learner, a linked provider or an operator acting for them does,"
        " through the sharing route (decision 0180). Where the file gives other names or another date of birth (as"
        " RV004 compares them: names trimmed and caseless, a date of birth only where both give one) to a learner"
        " that no learner file had named before, the links that a provider's own registration of the ULN made end"
        " (an operator's links stay), announced on the learner log: the ULN is the learner the file names, perhaps"
        " not the one that provider registered. Once a file has named a learner, later files correct their details"
        " and end no link. The answer counts them in `provider_links_ended` (decision 0121); such a provider's centre"
        " reports for the learner are not shown on their PLR until an operator links it again, and a choice to share"
        " that only it ever made becomes what the file says, counted in `sharing_choices_reset` (an opt-out stays)."
    ),
    status_code=201,
    responses=problem_responses(401, 403, 409, 410, 415, 422, 503),
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}}
    | operator_scope(OperatorScope.REGISTRY),
)
async def import_learners(request: Request, principal: Operator) -> LearnersImported:
    _refuse_unless_csv(request.headers.get("content-type"))
    try:
        # on a thread: ~13 µs of CPU a row, ~10 s for a file at the limit, would hold the event loop (and the
        # decider's heartbeats, 10 s before its group rebalances)
        text, learners = await asyncio.to_thread(_learners_in, await request.body())
    except BatchRefused as refusal:  # not UTF-8: said as a CSV batch's is, naming the encoding or the byte and where
        raise ProblemError(
            422, "Unreadable learner file", f"line {refusal.line}, column {refusal.column}: {refusal.detail}"
        ) from refusal
    except (ValueError, KeyError, csv.Error) as error:
        raise ProblemError(422, "Unreadable learner file", str(error)) from error
    try:
        imported = await learner_registry_of(request).register_learners(
            learners, imported_by=f"{principal} (learner file)"
        )
    except UnregisteredInMergeError as error:
        raise ProblemError(
            422, "Unknown learner in a merge", await asyncio.to_thread(_unregistered_in_file, error, text)
        ) from error
    except UnknownLearnerError as error:
        raise ProblemError(422, "Unknown learner in a merge", str(error)) from error
    except ErasedLearnerError as error:
        raise _erased(
            f"The file names erased learners (ULNs ending {error}): they are never registered or merged again;"
            " nothing in the file was registered."
        ) from error
    except AlreadyMergedError as error:
        raise _merged_already(error, " Nothing in the file was registered.") from error
    except MergeCycleError as error:
        raise _merge_cycle(f" ({error}) Nothing in the file was registered.") from error
    wake_outbox(request)
    _log.info(  # the registry's changes, audited by who made them (counts: the file's learners are not logged)
        "learners_imported",
        by=str(principal),
        new=imported.new,
        updated=imported.updated,
        unchanged=imported.unchanged,
        merged=imported.merged,
        provider_links_ended=imported.provider_links_ended,
        sharing_choices_reset=imported.sharing_choices_reset,
    )
    return LearnersImported(
        registered=imported.new,
        updated=imported.updated,
        unchanged=imported.unchanged,
        merged=imported.merged,
        provider_links_ended=imported.provider_links_ended,
        sharing_choices_reset=imported.sharing_choices_reset,
    )


def _learners_in(body: bytes) -> tuple[str, list[Learner]]:
    """A learner file's text and learners: read as a CSV batch's text is (a UTF-8 byte order mark left out;
    `BatchRefused` for a file in UTF-16 or UTF-32, or holding a byte that is not UTF-8, naming it, its line and its
    field), and parsed."""
    text = decoded_csv(body)
    return text, parse_learners_csv(text)


def _unregistered_in_file(error: UnregisteredInMergeError, text: str) -> str:
    """A learner file's merge refused for a ULN no learner is registered under (the row's MasterULN: the row's own
    ULN is registered by the file), naming it masked and the row's line, as every other refusal of a file does."""
    line = line_of_merge(text, error.merged_uln, error.master_uln)
    column = "MasterULN" if error.unregistered == error.master_uln else "ULN"
    return (
        f"{f'line {line}: ' if line else ''}{column} {mask_uln(error.unregistered)} is not a registered learner:"
        " a ULN is merged only into a registered learner (name the master on a row of its own, in this file or an"
        " earlier one). Nothing in the file was registered."
    )


def _merge_cycle(more: str = "") -> ProblemError:
    return ProblemError(
        409,
        "Merge would make a cycle",
        "The master ULN is already merged, directly or through other ULNs, into the ULN to merge: both"
        f" already belong to one learner, whose records land on the end of that chain.{more}",
    )


def _merged_already(error: AlreadyMergedError, more: str = "") -> ProblemError:
    return ProblemError(
        409,
        "Learner merged already",
        f"{error}: a ULN is merged once, into one master; to bring the two learners together, merge that master"
        f" instead.{more}",
        code=ProblemCode.LEARNER_MERGED_ALREADY,
    )


async def _sharing_learner(
    store: LearnerRegistry, principal: Principal, uln: str, doing: str
) -> tuple[MergedLearner, dict[str, Learner]]:
    """The learner `uln` names (a merged learner is one person: every read takes the choice of the ULN their
    records go under) and the registry's rows of their ULNs, once `principal` may see and change their sharing."""
    learners = await store.learners_for([uln])
    learner = LearnerMerges.of(learners.values()).resolve(uln)
    linked = (
        await store.linked_providers(learner.ulns) if principal.kind is PrincipalKind.PROVIDER else frozenset[str]()
    )
    if not may_change_sharing(principal, learner.ulns, linked):
        raise ProblemError(
            403,
            "Forbidden",
            f"Only the learner, a provider linked to the learner, or an operator {doing}.",
            code=ProblemCode.PROVIDER_NOT_LINKED if principal.kind is PrincipalKind.PROVIDER else None,
        )
    return learner, learners


_ERASED_SHARING: Final = (
    "This ULN's learner was erased: their ability to share is not recorded any more. The changes made before the"
    " erasure are kept: an operator reads who made them with GET /v1/admin/learners/{uln}/sharing-changes."
)


@router.post(
    "/learners/{uln}/sharing",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Change a learner's ability to share (the learner, a linked provider, operators)",
    description=(
        "A provider may change it only for a learner it is linked to: the provider that registered the learner, "
        "or one an operator linked with `POST /v1/admin/learners/{uln}/providers`. Any other provider gets 403, whether or "
        "not the ULN is registered; a ULN whose check digit is wrong is 422 `RV002` before that, from anyone. A "
        "merged learner is one person: any of their ULNs names them, and the "
        "choice is kept under the ULN their records go under (the end of the merge chain), which every read "
        "applies. The change is recorded at once and reaches the PLR service through the learner log: providers "
        "are refused (or allowed) their PLR once that service has applied it, normally within seconds, longer "
        "while it is behind. An erased learner is 410: nothing more is recorded about them. The choice the learner "
        "has already, sent again by whoever made it (a retry), records and publishes nothing and answers 200 with "
        "`changed: false` (a change recorded answers 204); sent by someone else (the learner confirming a provider's choice, say), it is recorded as theirs. While an "
        "operator's learner file is imported (a large one takes a minute or more) a change waits for it a few "
        "seconds, then is 503 `LEARNER_IMPORT_UNDER_WAY` with `Retry-After`, nothing recorded: send it again then."
    ),
    status_code=204,
    response_class=Response,  # no body, so no content-type either
    responses={
        200: {"model": SharingChosenAlready, "description": "the sender's choice already: nothing changed"},
        **problem_responses(401, 403, 404, 410, 422, 503),
    },
    openapi_extra=json_body(SharingChange) | operator_scope(OperatorScope.REGISTRY),
)
async def change_sharing(request: Request, principal: CurrentPrincipal, uln: Uln) -> Response:
    _refuse_mistyped(uln)
    store = learner_registry_of(request)

    # anyone but an operator is refused before the body is read (decision 0032); an operator's body is read first
    if not principal.is_operator:
        await _sharing_learner(store, principal, uln, "changes sharing")
    change = await read_body(request, SharingChange)
    if principal.is_operator:
        await _sharing_learner(store, principal, uln, "changes sharing")
    # the ULN as named: the store finds the end of its merge chain under the merges lock, where a merge committed
    # since the read above is seen; that read only authorises, and a merge only adds ULNs to the learner
    provider = principal.id if principal.kind is PrincipalKind.PROVIDER else None
    try:
        chosen = await store.change_sharing(uln, change.ability_to_share, str(principal), provider_ukprn=provider)
    except UnknownLearnerError as error:
        raise _not_registered() from error
    except ErasedLearnerError as error:
        raise _erased(_ERASED_SHARING) from error
    except ProviderNoLongerLinkedError as error:
        raise ProblemError(
            403,
            "Forbidden",
            "Only the learner, a provider linked to the learner, or an operator changes sharing.",
            code=ProblemCode.PROVIDER_NOT_LINKED,
        ) from error
    except LearnerImportUnderWayError as error:
        raise import_under_way(
            error, "a change of sharing", "nothing was recorded or published for the learner."
        ) from error
    if not chosen.changed:
        answer = SharingChosenAlready(uln=uln, ability_to_share=change.ability_to_share)
        return JSONResponse(answer.model_dump(mode="json"))
    wake_outbox(request)
    return Response(status_code=204)


@router.get(
    "/learners/{uln}/sharing",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="A learner's ability to share, and who changed it when (the learner, a linked provider, operators)",
    description=(
        "The choice every read of the learner's PLR applies (a merged learner's: the one kept under the end of "
        f"the merge chain), and its latest {LATEST_SHARING_CHANGES} changes under any of their ULNs (`more` says "
        "whether older ones are kept). Who may change it may read it; any "
        "other provider gets 403, for a registered ULN and an unknown one alike. An erased learner is 410 "
        "`LEARNER_ERASED`, as for a change: the changes made before the erasure are kept (decision 0166), and "
        "operators read them with `/v1/admin/learners/{uln}/sharing-changes`. To operators only, the answer also "
        f"gives the latest {LATEST_SHARING_CHANGES} changes of providers' links to the learner (`link_changes`: who "
        "linked or unlinked which provider, when and why); all of them, an erased learner's too, at "
        "`/v1/admin/learners/{uln}/link-changes`."
    ),
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def read_sharing(request: Request, principal: CurrentPrincipal, uln: Uln) -> SharingView:
    _refuse_mistyped(uln)
    store = learner_registry_of(request)
    learner, learners = await _sharing_learner(store, principal, uln, "reads their sharing")
    recorded = learners.get(learner.recorded_uln)
    if recorded is None:
        raise await _not_registered_or_erased(store, uln, _ERASED_SHARING)
    # one beyond the latest, to tell whether older ones are kept
    changes = await store.sharing_changes(learner.ulns, limit=LATEST_SHARING_CHANGES + 1)
    # the learner is told which provider made a change, and whether it is still linked to them
    linked = await store.linked_providers(learner.ulns) if principal.kind is PrincipalKind.LEARNER else None
    # who linked providers to the learner, and who ended the links: operators' to read, as their admin route
    link_changes = (
        await store.link_changes(learner.ulns, limit=LATEST_SHARING_CHANGES + 1) if principal.is_operator else None
    )
    return SharingView(
        uln=uln,
        ability_to_share=AbilityToShare(recorded.ability_to_share),
        changes=[
            SharingChangeView(
                ability_to_share=change.ability_to_share,
                changed_by=who_changed_sharing(change.changed_by, principal, linked),
                changed_at=change.changed_at,
            )
            for change in changes[:LATEST_SHARING_CHANGES]
        ],
        more=len(changes) > LATEST_SHARING_CHANGES,
        link_changes=(
            [_link_change_view(change) for change in link_changes[:LATEST_SHARING_CHANGES]]
            if link_changes is not None
            else None
        ),
        more_link_changes=link_changes is not None and len(link_changes) > LATEST_SHARING_CHANGES,
    )


def _link_change_view(change: RecordedLinkChange) -> LinkChangeView:
    return LinkChangeView(
        uln=change.uln,
        ukprn=change.ukprn,
        change="linked" if change.change == "linked" else "unlinked",
        changed_by=change.changed_by,
        changed_at=change.changed_at,
        reason=change.reason,
    )


class _Paged(Protocol):
    @property
    def position(self) -> PagePosition: ...


_Change = TypeVar("_Change", bound=_Paged)
_Change_co = TypeVar("_Change_co", bound=_Paged, covariant=True)


class _ChangeLog(Protocol[_Change_co]):
    """One of the registry's logs of a learner's changes kept through an erasure (`LearnerRegistry.sharing_changes`,
    `.link_changes`): newest first, at most `limit`, those recorded before `after`."""

    def __call__(
        self, ulns: Collection[str], limit: int = ..., *, after: PagePosition | None = None
    ) -> Awaitable[Sequence[_Change_co]]: ...


@dataclass(frozen=True)
class _KeptChanges(Generic[_Change]):
    ulns: list[str]
    erased: bool
    page: list[_Change]
    next: str | None


async def _kept_changes(
    store: LearnerRegistry, uln: str, log: _ChangeLog[_Change], *, limit: int, after: PagePosition | None
) -> _KeptChanges[_Change]:
    """A page of `log`'s changes under the ULN and every ULN merged with it, for the admin routes that answer for an
    erased learner too: 404 only for a ULN the registry never held."""
    _refuse_mistyped(uln)
    ulns = [uln, *await store.same_learner(uln)]
    erased = bool(await store.erasures(uln))
    if not erased and not await store.learners_for([uln]):
        raise _not_registered()
    # a merge only adds ULNs to the learner, and change ids only grow: a page's `next` marks a place in the same order
    found = await log(ulns, limit=limit + 1, after=after)
    page, following = split_page(found, limit, lambda last: last.position)
    return _KeptChanges(ulns, erased, page, following.token() if following else None)


@router.get(
    "/admin/learners/{uln}/sharing-changes",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Who changed a learner's sharing when, erased or not (operators)",
    description=(
        "Every change of the learner's ability to share under the ULN and every ULN merged with it, with "
        "the principal who made each. An erasure keeps them (decision 0166: ULNs and principals, nothing "
        "personal), so this answers for an erased learner too, whose sharing route answers 410. A ULN the "
        "registry never held, registered or erased, is 404. Newest first (in the order they were recorded), `limit` "
        "at a time: a full page carries `next`, to pass back as `after` for the older changes that follow."
    ),
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def surviving_sharing_changes(
    request: Request,
    principal: Operator,
    uln: Uln,
    after: PageAfter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SurvivingSharingChanges:
    store = learner_registry_of(request)
    kept = await _kept_changes(store, uln, store.sharing_changes, limit=limit, after=after)
    return SurvivingSharingChanges(
        uln=uln,
        ulns=kept.ulns,
        erased=kept.erased,
        changes=[
            SharingChangeView(
                ability_to_share=change.ability_to_share, changed_by=change.changed_by, changed_at=change.changed_at
            )
            for change in kept.page
        ],
        next=kept.next,
    )


@router.get(
    "/admin/learners/{uln}/link-changes",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Who linked providers to a learner and who ended the links, when and why, erased or not (operators)",
    description=(
        "Every link of a provider to the ULN or a ULN merged with it that was made (`linked`: the provider's "
        "registration of the learner, an operator's link) or ended (`unlinked`: an operator's unlink, a learner file "
        "or a merge ending a registration's link, decision 0121), with the principal who made each change. Linking a "
        "provider linked already, or unlinking one not linked, is no change. Kept since validation's migration 0136: "
        "the links held then are each listed once as `linked`, at the time they were made, by who made (or last "
        "vouched for) them, with a reason saying so. An erasure keeps them (ULNs, UKPRNs and principals, nothing "
        "personal), so this answers for an erased learner too. A ULN the registry never held is 404. Operators only: "
        "a learner, a provider and an awarding organisation get 403. Newest first (in the order they were recorded), "
        "`limit` at a time: a full page carries `next`, to pass back as `after` for the older changes that follow."
    ),
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def link_changes(
    request: Request,
    principal: Operator,
    uln: Uln,
    after: PageAfter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LinkChanges:
    store = learner_registry_of(request)
    kept = await _kept_changes(store, uln, store.link_changes, limit=limit, after=after)
    return LinkChanges(
        uln=uln,
        ulns=kept.ulns,
        erased=kept.erased,
        changes=[_link_change_view(change) for change in kept.page],
        next=kept.next,
    )


_ERASED_LINKS: Final = (
    "This ULN's learner was erased: the providers linked to them are not listed any more, and none of them reads"
    " their PLR, reports centre achievements for them or changes their sharing."
)


@router.get(
    "/learners/{uln}/providers",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="The providers linked to a learner (the learner, operators; a linked provider sees its own link)",
    description=(
        "Who may read the learner's PLR while they share (decision 0121): the provider that registered them and any "
        "an operator linked, under any of their ULNs, each with when it was first linked. Who may read the learner's "
        "sharing may read this: the learner and operators see every link; a linked provider only its own; any other "
        "provider, and awarding organisations, get 403. An erased learner is 410."
    ),
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def linked_providers(request: Request, principal: CurrentPrincipal, uln: Uln) -> LinkedProviders:
    _refuse_mistyped(uln)
    store = learner_registry_of(request)
    learner, learners = await _sharing_learner(store, principal, uln, "reads the providers linked to them")
    if learner.recorded_uln not in learners:
        raise await _not_registered_or_erased(store, uln, _ERASED_LINKS)
    links = await store.provider_links(learner.ulns)
    return LinkedProviders(
        uln=uln,
        providers=[
            LinkedProviderView(ukprn=link.provider_ukprn, linked_since=link.linked_at)
            for link in links
            if may_see_link(principal, link.provider_ukprn)
        ],
    )


@router.post(
    "/admin/learners/{uln}/providers",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Link a provider to a learner (operators)",
    description=(
        "A linked provider reads the learner's PLR while they share, reports centre achievements for them and "
        "changes their ability to share (decision 0121). Linking again announces the link again (it repairs a "
        "projection that missed it); an erased learner is 410."
    ),
    status_code=204,
    response_class=Response,  # no body, so no content-type either
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=json_body(ProviderLink) | operator_scope(OperatorScope.REGISTRY),
)
async def link_provider(request: Request, principal: Operator, uln: Uln) -> None:
    _refuse_mistyped(uln)
    link = await read_body(request, ProviderLink)
    try:
        await learner_registry_of(request).link_provider(uln, link.ukprn, linked_by=str(principal))
    except UnknownLearnerError as error:
        raise _not_registered() from error
    except ErasedLearnerError as error:
        raise _erased("This ULN's learner was erased: no provider can be linked to them.") from error
    wake_outbox(request)
    _log.info("provider_linked", uln=mask_uln(uln), ukprn=link.ukprn, by=str(principal))


Ukprn = Annotated[UkprnText, Path(description="The provider's UKPRN (8 digits)")]


class ProviderUnlinked(BaseModel):
    """What an unlink ended: the operator is told whether the learner lost their API keys with it."""

    ukprn: str
    links_ended: int = Field(description="the provider's links ended, one a ULN of the learner's")
    learner_keys_revoked: int = Field(
        description="the learner's API keys revoked with them (where the provider's own registration made a link):"
        " make the learner a key again (`lrs credentials create --principal learner:ULN`) once you know whose the ULN is"
    )


@router.delete(
    "/admin/learners/{uln}/providers/{ukprn}",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="End a provider's link to a learner (operators)",
    description=(
        "Ends the provider's links to the learner under the ULN and every ULN merged with it, whoever made them (the "
        "provider's registration or an operator), announced on the learner log: once the PLR service has applied it, "
        "normally within a second, the provider is refused the learner's PLR (403 `PROVIDER_NOT_LINKED`), reports no "
        "centre achievements for them and no longer changes their sharing, and the centre reports it made for them "
        "are not shown on their PLR until an operator links it again (`POST /v1/admin/learners/{uln}/providers`, decision "
        "0121). Where the provider's own registration of a ULN made its link, that ULN's learner API keys are revoked "
        "with it, as when a learner file or a merge ends such a link: an operator makes the learner a key again once "
        "they know whose the ULN is. A sharing choice the provider made stays (the learner or an operator changes "
        "it). 404 when the provider is not linked to the learner (or no learner was ever registered under the ULN): "
        "nothing changed. While a learner file is imported the unlink waits for it a few seconds, then is 503 "
        "`LEARNER_IMPORT_UNDER_WAY` with `Retry-After`, nothing ended. The answer says how many links ended and how"
        " many learner API keys were revoked with them."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def unlink_provider(request: Request, principal: Operator, uln: Uln, ukprn: Ukprn) -> ProviderUnlinked:
    _refuse_mistyped(uln)
    try:
        ended = await learner_registry_of(request).unlink_provider(
            uln, ukprn, unlinked_by=unlink_revoker(str(principal), ukprn)
        )
    except UnknownLearnerError as error:
        raise _not_registered() from error
    except LearnerImportUnderWayError as error:
        raise import_under_way(error, "an unlink of a provider", "no link was ended.") from error
    if not ended.ulns:
        raise ProblemError(
            404,
            "Provider not linked",
            f"Provider {ukprn} is not linked to this learner under any of their ULNs: nothing was changed."
            " GET /v1/learners/{uln}/providers lists the providers linked to them.",
        )
    wake_outbox(request)
    _log.info(  # the audit of who ended the link: the ULN masked, as every log line has it
        "provider_unlinked",
        uln=mask_uln(uln),
        ukprn=ukprn,
        by=str(principal),
        links_ended=len(ended.ulns),
        learner_keys_revoked=ended.learner_keys_revoked,
    )
    return ProviderUnlinked(ukprn=ukprn, links_ended=len(ended.ulns), learner_keys_revoked=ended.learner_keys_revoked)


@router.post(
    "/learners/{master_uln}/merge",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Merge another ULN into this master ULN",
    description=(
        "Answers 204 when the ULN is merged now. The same merge again (the ULN merged into this master already, "
        "by the API or a learner file) changes and publishes nothing and answers 200 with `changed: false` "
        "(decision 0158). Refused with 422 `INVALID_REQUEST` when `merged_uln` is the master ULN itself (a ULN is "
        "not merged into itself), before either is looked up; with 404 `LEARNER_NOT_REGISTERED` when either ULN is "
        "not registered. Refused with 409 when the master ULN is already merged, directly or through other ULNs, "
        "into the ULN to merge: the merge would make a cycle (decision 0031); and with 409 "
        "`LEARNER_MERGED_ALREADY` when the ULN to merge is merged into another master. Refused with 410 when "
        "either learner was erased. Merging a ULN that no learner file has named, registered under other names or "
        "another date of birth than the master's (compared as for a learner file), ends the links that a provider's "
        "own registration of that ULN made (an operator's links stay), announced on the learner log before the "
        "merge: the provider would otherwise reach the master's PLR (decision 0121), and its centre reports for the "
        "learner are not shown on the PLR while it is not linked. The other way round: merging a learner a learner "
        "file has named into a master ULN no file has named, registered under other names or date of birth, ends the "
        "master's provider-registration links the same way, or that provider would reach the merged learner's PLR. "
        "Where only that provider ever chose that the "
        "ULN's learner shares, the choice is set to the other learner's (the merged ULN's to the master's, the "
        "master's to the merged learner's), recorded as this operator's change with why; an "
        "opt-out, the provider's too, stays and is kept at the master as any (decision 0164). An operator links it again "
        "if the learner is truly theirs; `GET /v1/learners/{uln}/providers` shows who is linked. While a learner file "
        "is imported a merge waits for it a few seconds, then is 503 `LEARNER_IMPORT_UNDER_WAY` with `Retry-After`, "
        "nothing merged."
    ),
    status_code=204,
    response_class=Response,  # no body, so no content-type either
    responses={
        200: {"model": MergedAlready, "description": "merged into this master already: nothing changed"},
        **problem_responses(401, 403, 404, 409, 410, 422, 503),
    },
    openapi_extra=json_body(MergeRequest) | operator_scope(OperatorScope.REGISTRY),
)
async def merge_learners(request: Request, principal: Operator, master_uln: Uln) -> Response:
    merge = await read_body(request, MergeRequest)
    _refuse_mistyped(master_uln, merge.merged_uln)
    if merge.merged_uln == master_uln:  # refused before the registry is asked: not "not registered" (it may be)
        raise ProblemError(
            422,
            "Merged into itself",
            "A ULN is not merged into itself: `merged_uln` is the learner's other ULN, not the master's."
            " Nothing was changed.",
            code=ProblemCode.INVALID_REQUEST,
        )
    try:
        changed = await learner_registry_of(request).merge(master_uln, merge.merged_uln, merged_by=str(principal))
    except UnknownLearnerError as error:
        which = str(error)  # which ULN is not, when the registry says it: "the master ULN ******0761 is not ..."
        raise ProblemError(
            404,
            "Learner not registered",
            f"{which[:1].upper()}{which[1:]}: both ULNs must be registered. Nothing was changed."
            if isinstance(error, UnregisteredInMergeError)
            else "Both ULNs must be registered, and one is not: nothing was changed.",
            code=ProblemCode.LEARNER_NOT_REGISTERED,
        ) from error
    except ErasedLearnerError as error:
        raise _erased("One of the learners was erased: an erased learner is never merged.") from error
    except AlreadyMergedError as error:
        raise _merged_already(error) from error
    except MergeCycleError as error:
        raise _merge_cycle() from error
    except LearnerImportUnderWayError as error:
        raise import_under_way(error, "a merge", "nothing was merged.") from error
    said = {"master_uln": mask_uln(master_uln), "merged_uln": mask_uln(merge.merged_uln), "by": str(principal)}
    if not changed:
        _log.info("learners_merged_already", **said)
        answer = MergedAlready(master_uln=master_uln, merged_uln=merge.merged_uln)
        return JSONResponse(answer.model_dump(mode="json"))
    wake_outbox(request)
    _log.info("learners_merged", **said)
    return Response(status_code=204)


# What a correction without a reason (none, null, or nothing a reader sees) is refused with, as a skip of a dead letter
# is (`lrs_platform.parking_api`)
CORRECTION_REASON_MISSING = "Say why the learner's details are corrected: it is kept with the record of the correction"
CORRECTION_REASON_LENGTH: Final = 500


def _correction_reason_said(reason: str) -> str:
    if not has_visible_text(reason):
        raise ValueError(CORRECTION_REASON_MISSING)
    return reason


class DetailsCorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: LearnerName | None = Field(default=None, min_length=1, description=f"{_NAME}; absent: as held")
    family_name: LearnerName | None = Field(default=None, min_length=1, description=f"{_NAME}; absent: as held")
    date_of_birth: Annotated[WrittenDate | None, AfterValidator(_a_birth_date)] = Field(
        default=None, description="`yyyy-mm-dd`, from 1900-01-01 to today; absent: as held"
    )
    gender: Annotated[Literal[0, 1, 2, 9] | None, BeforeValidator(_a_number_not_a_truth_value)] = Field(
        default=None, description="0 not known, 1 male, 2 female, 9 not specified; absent: as held"
    )
    reason: Annotated[StorableText, AfterValidator(_correction_reason_said)] = Field(
        max_length=CORRECTION_REASON_LENGTH,
        description="why (the learner's request and its reference, say): kept in the audit of corrections with who"
        " and when, and kept after an erasure as an erasure's own reason is, so do not write the learner's details in"
        " it. Required: left out, null or with nothing a reader sees, 422 and nothing is changed",
    )

    @model_validator(mode="before")
    @classmethod
    def _reason_asked_for(cls, data: Any) -> Any:
        # a reason left out (or null) is refused in the same words as a blank one, not pydantic's "Field required"
        if isinstance(data, dict) and data.get("reason") is None:
            return {**data, "reason": ""}
        return data

    @model_validator(mode="after")
    def _reason_leaves_out_the_details(self) -> DetailsCorrectionRequest:
        # the reason outlives an erasure (the audit is kept as written): the details it corrects must not be in it, as
        # words (Ed is no part of "requested"); a guard, not a guarantee: the spelling it replaces is not seen here
        said = self.reason.casefold()
        held = [
            (field, value)
            for field, value in (
                ("given name", self.given_name),
                ("family name", self.family_name),
                ("date of birth", self.date_of_birth and self.date_of_birth.isoformat()),
                ("date of birth", self.date_of_birth and self.date_of_birth.strftime("%d/%m/%Y")),
            )
            if value and len(value) > 1 and re.search(rf"(?<!\w){re.escape(value.casefold())}(?!\w)", said)
        ]
        if held:
            raise ValueError(
                f"The reason holds the learner's {held[0][0]}: it is kept for good, even after the learner's erasure."
                " Write a case reference instead"
            )
        return self


class CorrectionView(BaseModel):
    """A correction of a learner's details, as the audit keeps it (migration 0139): never the details themselves."""

    rectification_id: uuid.UUID
    ulns: list[str] = Field(description="the learner's ULNs whose details it changed (the master and merged ULNs)")
    fields: list[str] = Field(
        description="which details it changed: `given_name`, `family_name`, `date_of_birth`, `gender` (names only:"
        " the values are the registry's, and the earlier ones stay sealed on the learner log)"
    )
    reason: str
    corrected_by: str = Field(description="the operator's principal")
    corrected_with_key: str | None = Field(description="the id of the API key the operator used")
    corrected_at: datetime


class Corrections(BaseModel):
    uln: str
    ulns: list[str] = Field(description="the ULN and the learner's other ULNs (merged with it), erased or not")
    erased: bool = Field(description="whether the learner was erased: these records are kept")
    corrections: list[CorrectionView] = Field(
        description="the corrections of the details of any of the ULNs, newest first, `limit` at a time"
    )
    next: str | None = Field(
        default=None,
        description="where the next page of older corrections starts: pass it as `after`; null on the last page",
    )


def correction_view(rectification: Rectification) -> CorrectionView:
    return CorrectionView(
        rectification_id=rectification.rectification_id,
        ulns=list(rectification.ulns),
        fields=list(rectification.fields),
        reason=rectification.reason,
        corrected_by=rectification.corrected_by,
        corrected_with_key=rectification.corrected_with_key,
        corrected_at=rectification.corrected_at,
    )


@router.post(
    "/admin/learners/{uln}/correction",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Correct a learner's registered details as the same person (operators)",
    description=(
        "A learner's right to have their details corrected (UK GDPR Article 16): the names, date of birth or gender"
        " given replace those held under the ULN and every ULN merged with it (either way, along chains), and each"
        " ULN changed is announced on the learner log as a learner file's change of details is, so the PLR service,"
        " the challenges service and the Sandpit's copy of the registry follow. Unlike a learner file (decision"
        " 0121), a correction says the ULN is the same person: it ends no provider's link, revokes none of the"
        " learner's API keys and hides no centre report. Each correction is audited (`validation.rectifications`:"
        " the ULNs, which fields changed but never their values, `reason`, who, with which API key, when), listed by"
        " `GET /v1/admin/learners/{uln}/corrections` and in the learner's subject access answer. Names are checked"
        " as a registration's are. Refused, nothing changed: 422 when no detail is given or `reason` is missing or"
        " blank; 404 `LEARNER_NOT_REGISTERED` for a ULN no learner is registered under; 410 `LEARNER_ERASED` for an"
        " erased learner; 409 `CONFLICT` when every ULN of the learner holds the details given already; 503"
        " `LEARNER_IMPORT_UNDER_WAY` with `Retry-After` while a learner file is imported."
    ),
    responses=problem_responses(401, 403, 404, 409, 410, 422, 503),
    openapi_extra=json_body(DetailsCorrectionRequest) | operator_scope(OperatorScope.REGISTRY),
)
async def correct_details(request: Request, principal: Operator, uln: Uln) -> CorrectionView:
    _refuse_mistyped(uln)
    body = await read_body(request, DetailsCorrectionRequest)
    correction = DetailsCorrection(
        given_name=body.given_name, family_name=body.family_name, date_of_birth=body.date_of_birth, gender=body.gender
    )
    if not correction.given():
        raise ProblemError(
            422,
            "Nothing to correct",
            "Give at least one of given_name, family_name, date_of_birth and gender: nothing was changed.",
            code=ProblemCode.INVALID_REQUEST,
        )
    try:
        rectification = await learner_registry_of(request).correct_details(
            uln, correction, reason=body.reason, corrected_by=str(principal), with_key=principal.key_id
        )
    except UnknownLearnerError as error:
        raise _not_registered() from error
    except ErasedLearnerError as error:
        raise _erased("This ULN's learner was erased: they have no details left to correct.") from error
    except NothingToCorrectError as error:
        raise ProblemError(
            409,
            "Nothing to correct",
            "Every ULN of the learner holds these details already: nothing was changed or recorded.",
            code=ProblemCode.CONFLICT,
        ) from error
    except LearnerImportUnderWayError as error:
        raise import_under_way(error, "a correction of a learner's details", "nothing was changed.") from error
    wake_outbox(request)
    return correction_view(rectification)


@router.get(
    "/admin/learners/{uln}/corrections",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Who corrected a learner's details, which, when and why, erased or not (operators)",
    description=(
        "Every correction of the details of the ULN or a ULN merged with it (`POST"
        " /v1/admin/learners/{uln}/correction`): the ULNs changed, which fields (never their values), the reason, who"
        " and with which API key, when. Kept since validation's migration 0139; a learner file's changes of details"
        " are not in it. An erasure keeps them, so this answers for an erased learner too. A ULN the registry never"
        " held is 404. Operators only. Newest first, `limit` at a time: a full page carries `next`, to pass back as"
        " `after` for the older corrections that follow."
    ),
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def corrections(
    request: Request,
    principal: Operator,
    uln: Uln,
    after: PageAfter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Corrections:
    store = learner_registry_of(request)
    kept = await _kept_changes(store, uln, store.rectifications, limit=limit, after=after)
    return Corrections(
        uln=uln,
        ulns=kept.ulns,
        erased=kept.erased,
        corrections=[correction_view(each) for each in kept.page],
        next=kept.next,
    )
