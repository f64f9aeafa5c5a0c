"""HTTP: learners raise Event Data Challenges; the owning AO acknowledges and resolves them."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from challenges.domain import (
    AchievementIsWithdrawn,
    AchievementNotFound,
    AwardingOrganisationMismatch,
    BatchOnRecord,
    Challenge,
    ChallengeQuery,
    ChallengeState,
    CorrectingBatchDoesNotFit,
    CorrectingBatchRequired,
    InvalidTransition,
    LearnerDataErased,
    NoteRequired,
    OnlyTheLearnerWithdraws,
    RaisedTooOften,
)
from challenges.service import (
    PROVIDERS_READ_NONE,
    ChallengeNotFound,
    ChallengeService,
    EventsHeld,
    NotAllowed,
    RecordBehind,
    only_the_learner_withdraws,
)
from challenges.store import OpenChallengeExists
from lrs_contracts.challenge import (
    CHALLENGE_TEXT_MAX_LENGTH,
    RESOLUTION_LABELS,
    ChallengedAchievement,
    ChallengeResolution,
    resolution_label,
)
from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN, AoIdText
from lrs_contracts.plr import ResultStatus
from lrs_contracts.text import StorableText, has_visible_text
from lrs_domain.identifiers import display_qan
from lrs_domain.rules import why_no_learner_has
from lrs_platform.authentication import CurrentPrincipal, caller_of_kind
from lrs_platform.clock import day_and_time
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.paging_api import PageAfter
from lrs_platform.problems import ProblemError, problem_responses

_log = get_logger("challenges.api")

router = APIRouter(prefix="/v1/challenges", tags=["challenges"])

AoFilter = Annotated[AoIdText | None, Query(description="operators: this AO's only")]
UlnFilter = Annotated[
    list[Annotated[str, StringConstraints(pattern=ULN_PATTERN)]] | None,
    Query(max_length=50, description="the learner's ULNs (a merged learner has several)"),
]

MAX_TEXT_LENGTH = CHALLENGE_TEXT_MAX_LENGTH
"""The most characters a reason or a note holds (after surrounding spaces are trimmed)."""


def _within_length(what: str, text: str) -> str:
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"Write at most {MAX_TEXT_LENGTH:,} characters: the {what} has {len(text):,}")
    return text


def _lines_ended_with_lf(text: str) -> str:
    """`text` with each line ended by LF alone: a browser sends a textarea's line breaks as CR LF, a file written on
    Windows holds CR LF, and an old Mac's a lone CR. Every surface (the portal, the API, `lrs`) then stores, counts
    and compares the same text, whichever its line ends were."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _reason_said(reason: str) -> str:
    """A reason of the allowed length with something in it a reader sees: spaces, zero-width spaces and other
    invisible characters alone reach the AO's email as a blank, and hold the achievement's one open challenge. Its
    lines end with LF (`_lines_ended_with_lf`)."""
    if not has_visible_text(reason):
        raise ValueError("Say what is wrong with the data: the reason is empty")
    return _within_length("reason", _lines_ended_with_lf(reason))


def _note_said(note: str | None) -> str | None:
    """A note of the allowed length, or None for one with nothing in it a reader sees (as if none was given): an
    upheld or rejected resolution is then refused for want of one (`NoteRequired`). Its lines end with LF
    (`_lines_ended_with_lf`), as the portal sends it: the learner reads the same note whoever's surface resolved."""
    if note is None or not has_visible_text(note):
        return None
    return _within_length("note", _lines_ended_with_lf(note))


# The words of a length refusal are the validators' own (lrs_platform.problems names the field before them), not
# pydantic's "String should have at most 2000 characters"; the documents keep saying the bounds.
Reason = Annotated[
    StorableText,
    AfterValidator(_reason_said),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH}),
]
Note = Annotated[
    Annotated[StorableText, WithJsonSchema({"type": "string", "maxLength": MAX_TEXT_LENGTH})] | None,
    AfterValidator(_note_said),
]


class ChallengeCreate(BaseModel):
    """A data error on one achievement of the caller's own PLR. Not an appeal against a result."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    achievement_id: uuid.UUID = Field(description="the achievement on the learner's PLR")
    ao_id: AoIdText | None = Field(
        default=None,
        description="optional: the awarding organisation that recorded it, e.g. RN9093. The AO is taken from the "
        "PLR log; a different AO here is refused with 422 `ACHIEVEMENT_OF_ANOTHER_AO`.",
    )
    reason: Reason = Field(
        description="what is wrong with the data, in 1 to 2,000 characters (surrounding spaces trimmed), at least one"
        " of them visible: spaces, zero-width spaces and other invisible characters alone are refused. It is"
        " emailed, word for word, to the AO's challenge contact, and an email once sent cannot be recalled (erasing"
        " the learner later does not reach it): write about the achievement, and no one else's personal details",
    )


AO_RESOLUTIONS = tuple(
    resolution for resolution in ChallengeResolution if resolution is not ChallengeResolution.WITHDRAWN
)
"""The resolutions an awarding organisation (or an operator for it) resolves a challenge as: `withdrawn` is the
learner's alone (POST /v1/challenges/{challenge_id}/withdraw, decision 0194)."""
ONLY_THE_LEARNER_WITHDRAWS_DETAIL = (
    "A challenge is withdrawn only by the learner who raised it (or an LRS operator for them): resolve it as"
    f" {', '.join(resolution.value for resolution in AO_RESOLUTIONS[:-1])} or {AO_RESOLUTIONS[-1].value}"
)


def _resolved_by_the_ao(resolution: ChallengeResolution) -> ChallengeResolution:
    if resolution is ChallengeResolution.WITHDRAWN:
        raise ValueError(ONLY_THE_LEARNER_WITHDRAWS_DETAIL)
    return resolution


AoResolution = Annotated[
    ChallengeResolution,
    AfterValidator(_resolved_by_the_ao),
    WithJsonSchema({"type": "string", "enum": [resolution.value for resolution in AO_RESOLUTIONS]}),
]


class ChallengeResolve(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    resolution: AoResolution = Field(
        description="corrected: the AO fixed the data in a batch (name it in `correcting_batch_id`); upheld: the"
        f' data is right (shown to people as "{RESOLUTION_LABELS[ChallengeResolution.UPHELD]}"); rejected: not a'
        " data error. Not `withdrawn`, which only the learner who raised the challenge does (POST"
        " /v1/challenges/{challenge_id}/withdraw): 422 `INVALID_REQUEST`"
    )
    note: Note = Field(
        default=None,
        description="for the learner, who reads it with the resolution: at most 2,000 characters. Needed with"
        " `upheld` and `rejected`, which change nothing on the PLR: it is all the learner is told of why (422"
        " `RESOLUTION_NOTE_REQUIRED` without one), unless the learner's personal data was erased (no note is kept"
        " or read then). A note of spaces or invisible characters alone counts as none",
    )
    correcting_batch_id: uuid.UUID | None = Field(
        default=None,
        description="with `corrected`, and only then: the completed batch that corrected the data — one whose"
        " accepted records reached the PLR for the same learner and the achievement's qualification after the"
        " challenge was raised (`GET /v1/challenges/{challenge_id}/correcting-batches` lists them)",
    )


class ChallengedAchievementPublic(BaseModel):
    """What the challenged achievement is, as the PLR log had it when the challenge was raised. A challenge raised
    before its pathway, centre, language for assessment and credits were kept takes them from the service's copy of
    the log once it has read the log again, unless the achievement has changed since: those stay null then."""

    qualification_number: str = Field(description="the normalised QAN or unit reference, e.g. 6001166X")
    subject_code: str = Field(
        description="the same, as written for people and as the PLR shows it (`subject_code`), e.g. 600/1166/X"
    )
    title: str | None = Field(description="the qualification's title from the catalogue, if known")
    award_date: date
    grade: str | None
    uln: str | None = Field(
        default=None,
        description="the ULN the awarding organisation recorded the achievement under: the challenge's own `uln`"
        " is the learner's who raised it, another when a ULN merged into theirs holds the achievement; null for a"
        " challenge raised before this was kept",
    )
    status: ResultStatus | None = Field(
        default=None,
        description="the result's status when the challenge was raised, as the PLR's `status` says it: P"
        " Provisional, F Final; null for a challenge raised before this was kept",
    )
    pathway: str | None = Field(
        default=None, description="the pathway when the challenge was raised, as the PLR's `pathway`; null if none"
    )
    achievement_provider_ukprn: str | None = Field(
        default=None,
        description="the centre's UKPRN the awarding organisation recorded when the challenge was raised, as the PLR's"
        " `achievement_provider_ukprn`; null if none",
    )
    language_for_assessment: str | None = Field(
        default=None,
        description="English, Welsh or Irish when the challenge was raised, as the PLR's `language_for_assessment`;"
        " null if none",
    )
    credits: int | None = Field(
        default=None, description="the credits when the challenge was raised, as the PLR's `credits`; null if none"
    )

    @staticmethod
    def of(achievement: ChallengedAchievement | None) -> ChallengedAchievementPublic | None:
        if achievement is None:
            return None
        return ChallengedAchievementPublic(
            qualification_number=achievement.qualification_number,
            subject_code=display_qan(achievement.qualification_number),
            title=achievement.title,
            award_date=achievement.award_date,
            grade=achievement.grade,
            uln=achievement.uln,
            status=achievement.status,
            pathway=achievement.pathway,
            achievement_provider_ukprn=achievement.ukprn,
            language_for_assessment=achievement.language_for_assessment,
            credits=achievement.credits,
        )


class CorrectingBatch(BaseModel):
    batch_id: uuid.UUID
    decided_at: datetime = Field(description="when its records reached the PLR log")

    @staticmethod
    def of(batch: BatchOnRecord) -> CorrectingBatch:
        return CorrectingBatch(batch_id=batch.batch_id, decided_at=batch.decided_at)


def _actor_said_to(viewer: Principal, actor: str | None) -> str | None:
    """Who acted on a challenge, as the viewer may be told: an operator is told the principal; the AO and the
    learner the kind (an operator's name is no business of theirs; the AO is the one AO they know). A learner who
    withdrew their challenge is "you" to themselves (the only learner who reads it) and "the learner" to the AO."""
    if actor is None or viewer.is_operator:
        return actor
    kind = actor.partition(":")[0]
    if kind == PrincipalKind.LEARNER.value:
        return "you" if viewer.kind is PrincipalKind.LEARNER else "the learner"
    return "an LRS operator" if kind == PrincipalKind.OPERATOR.value else "the awarding organisation"


def _key_said_to(viewer: Principal, actor: str | None, key_id: str | None) -> str | None:
    """The id of the API key `actor` used, as the viewer may be told it: an operator is told every one; the AO only
    its own (`actor` the AO itself), as it reads its own batches' `submitted_with_key`: not an operator's, whose key
    is no business of its; the learner none."""
    if viewer.is_operator or (viewer.kind is PrincipalKind.AO and actor == str(viewer)):
        return key_id
    return None


def _uln_said_to(viewer: Principal, challenge: Challenge) -> str:
    """The AO knows the learner by the ULN it recorded the achievement under: the one a learner merged into it raised
    the challenge under would tell it of a merge where it recorded nothing (decision 0162)."""
    recorded = challenge.achievement.uln if challenge.achievement else None
    if viewer.kind is PrincipalKind.AO and recorded is not None:
        return recorded
    return challenge.uln


class CorrectingBatchList(BaseModel):
    items: list[CorrectingBatch]


class ChallengePublic(BaseModel):
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str = Field(
        description="to the learner and to operators, the ULN the learner raised it under; to the awarding"
        " organisation, the ULN it recorded the achievement under (`achievement.uln`), where it knows the learner:"
        " it is told of no other ULN of theirs (decision 0162). The raising ULN for a challenge raised before the"
        " recorded one was kept"
    )
    reason: str | None = Field(description="the learner's words; null once their personal data is erased")
    state: ChallengeState
    raised_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    acknowledged_by: str | None = Field(
        default=None,
        description="who acknowledged it: to an operator the key's principal (`ao:RN5133`, `operator:jo`); to the"
        " AO and the learner `the awarding organisation` or `an LRS operator`; null before this was kept",
    )
    resolved_by: str | None = Field(
        default=None,
        description="who resolved it, said as `acknowledged_by` is; for a challenge the learner withdrew, to an operator"
        " the learner's principal (`learner:…`) or the operator's who withdrew it for them, to the learner `you`, to"
        " the AO `the learner`",
    )
    acknowledged_with_key: str | None = Field(
        default=None,
        description="the id of the API key it was acknowledged with (never its secret; from the portal: the signed-in"
        " user's session key, labelled `portal session: <username>`), as a batch's `submitted_with_key`: to an"
        " operator; to the AO only when it acknowledged it itself (its own key); null to the learner, for one"
        " acknowledged before this was kept, and for one restored from the log",
    )
    resolved_with_key: str | None = Field(
        default=None,
        description="the id of the API key it was resolved (or withdrawn) with, said as `acknowledged_with_key` is:"
        " to an operator, the learner's key for a challenge the learner withdrew; to the AO only its own",
    )
    resolution: ChallengeResolution | None = Field(
        description="corrected, upheld or rejected by the awarding organisation; withdrawn by the learner (decision"
        " 0194); null while open"
    )
    note: str | None = Field(description="the AO's note; null once the learner's personal data is erased")
    personal_data_erased: bool = Field(
        description="the learner was erased: the challenge's facts stay, its reason and note are gone"
    )
    achievement: ChallengedAchievementPublic | None = Field(
        default=None, description="what the achievement is; null for a challenge raised before this was kept"
    )
    correcting_batch_id: uuid.UUID | None = Field(
        default=None, description="the batch that corrected the data, for a challenge resolved as corrected"
    )
    achievement_withdrawn: bool = Field(
        default=False,
        description="the awarding organisation has withdrawn the challenged achievement since it was raised (as the"
        " challenges service's copy of the PLR log has it now): it is no longer on the learner's PLR, which shows it"
        " with `include_withdrawn=true`; false again once it is reinstated",
    )

    @staticmethod
    def of(challenge: Challenge, viewer: Principal, *, achievement_withdrawn: bool = False) -> ChallengePublic:
        return ChallengePublic(
            challenge_id=challenge.challenge_id,
            achievement_id=challenge.achievement_id,
            ao_id=challenge.ao_id,
            uln=_uln_said_to(viewer, challenge),
            reason=challenge.reason,
            state=challenge.state,
            raised_at=challenge.raised_at,
            acknowledged_at=challenge.acknowledged_at,
            resolved_at=challenge.resolved_at,
            acknowledged_by=_actor_said_to(viewer, challenge.acknowledged_by),
            resolved_by=_actor_said_to(viewer, challenge.resolved_by),
            acknowledged_with_key=_key_said_to(viewer, challenge.acknowledged_by, challenge.acknowledged_with_key),
            resolved_with_key=_key_said_to(viewer, challenge.resolved_by, challenge.resolved_with_key),
            resolution=challenge.resolution,
            note=challenge.note,
            personal_data_erased=challenge.personal_data_erased,
            achievement=ChallengedAchievementPublic.of(challenge.achievement),
            correcting_batch_id=challenge.correcting_batch_id,
            achievement_withdrawn=achievement_withdrawn,
        )


class ChallengeList(BaseModel):
    items: list[ChallengePublic]
    next: str | None = Field(
        default=None, description="where the next page starts: pass it as `after`; null on the list's last page"
    )


class OpenChallengeCounts(BaseModel):
    open: int = Field(description="raised and acknowledged together")
    raised: int
    acknowledged: int


def _service(request: Request) -> ChallengeService:
    service: ChallengeService = request.app.state.challenges
    return service


async def _shown(request: Request, viewer: Principal, challenges: list[Challenge]) -> list[ChallengePublic]:
    """The challenges as `viewer` sees them, each saying whether its achievement is withdrawn now."""
    withdrawn = await _service(request).withdrawn_achievements(challenges)
    return [
        ChallengePublic.of(challenge, viewer, achievement_withdrawn=challenge.achievement_id in withdrawn)
        for challenge in challenges
    ]


async def _one_shown(request: Request, viewer: Principal, challenge: Challenge) -> ChallengePublic:
    [shown] = await _shown(request, viewer, [challenge])
    return shown


_WHAT_NEXT = {
    ChallengeState.ACKNOWLEDGED: "It is acknowledged already, so nothing more is needed to acknowledge it: resolve it"
    " once you have an answer for the learner (POST /v1/challenges/{challenge_id}/resolve).",
}
"""What the caller of a change a challenge's state refused can do, by the state it is in (`state`); a closed
(resolved) challenge is said by `_closed`."""

_CLOSED_VERB = {"acknowledged": "acknowledged", "resolved": "resolved again", "withdrawn": "withdrawn"}


def _closed(action: str, challenge: Challenge | None, viewer: Principal | None) -> str:
    """Why a closed challenge (state `resolved`) cannot be acknowledged, resolved or withdrawn, in words for its
    reader: how it ended (withdrawn by the learner, or resolved by the awarding organisation as what) and when, when
    the challenge could be read; and that nothing more is needed. A learner's withdrawal is not called a resolution:
    the awarding organisation told "resolved" would look for an answer someone gave. Who acted is said as the
    challenge's `resolved_by` is said to the reader (an operator may act for the learner or the AO)."""
    verb = _CLOSED_VERB.get(action, action)
    if challenge is None or challenge.resolution is None:
        return f"This challenge is closed, so it cannot be {verb}. Nothing more is needed."
    when = f" on {day_and_time(challenge.resolved_at)} (UK time)" if challenge.resolved_at else ""
    who = _closed_by(viewer, challenge.resolved_by) if viewer is not None else None
    if challenge.resolution is ChallengeResolution.WITHDRAWN:
        if who is None:  # read without its actor: a withdrawal is the learner's own
            who = "you" if viewer is not None and viewer.kind is PrincipalKind.LEARNER else "the learner"
        how = f"{who} withdrew it{when}"
    else:
        how = f'{who or "the awarding organisation"} resolved it as "{resolution_label(challenge.resolution)}"{when}'
    return f"This challenge is closed: {how}, so it cannot be {verb}. Nothing more is needed."


def _closed_by(viewer: Principal, actor: str | None) -> str | None:
    """Who closed a challenge, in a refusal's sentence: as `_actor_said_to` says it, but to an operator a learner or
    an AO in words too (an operator who acted is named by their principal)."""
    if viewer.is_operator and actor is not None:
        kind = actor.partition(":")[0]
        if kind == PrincipalKind.LEARNER.value:
            return "the learner"
        if kind == PrincipalKind.AO.value:
            return "the awarding organisation"
    return _actor_said_to(viewer, actor)


def _refuse_mistyped_ulns(ulns: list[str] | None) -> None:
    """A ULN no learner can have (its check digit wrong, the temporary ULN) is answered as such, before anything is
    decided of who may see what: an empty list would read as "no challenges for this learner", and a learner's 403
    as "not yours", where a digit was mistyped. Arithmetic on what was typed, so it tells nothing of any learner."""
    for uln in ulns or ():
        if refusal := why_no_learner_has(uln):
            raise ProblemError(422, "Invalid ULN", refusal.reason, code=refusal.code)


async def _refusal(request: Request, viewer: Principal, challenge_id: uuid.UUID, error: Exception) -> ProblemError:
    """`_translate`, with a closed challenge read to say how it ended (`_closed`); unread if it cannot be read."""
    if not (isinstance(error, InvalidTransition) and error.state is ChallengeState.RESOLVED):
        return _translate(error)
    try:
        challenge: Challenge | None = await _service(request).get(viewer, challenge_id)
    except Exception as error_reading:  # the database away a moment after the refusal: the refusal stands, said
        _log.warning("closed_challenge_unread", challenge_id=str(challenge_id), error=type(error_reading).__name__)
        challenge = None  # without the how
    return _translate(error, challenge, viewer)


def _translate(error: Exception, closed: Challenge | None = None, viewer: Principal | None = None) -> ProblemError:
    """The problem a domain error answers; `closed`: the challenge a change was refused for because it is resolved
    (read again, to say how it ended), and `viewer`, who asked."""
    if isinstance(error, ChallengeNotFound):
        return ProblemError(404, "Not found", "No such challenge.")
    if isinstance(error, NotAllowed):
        return ProblemError(403, "Forbidden", str(error))
    if isinstance(error, InvalidTransition):
        said = (
            _closed(error.action, closed, viewer)
            if error.state is ChallengeState.RESOLVED
            else f"{error} {_WHAT_NEXT.get(error.state, '')}".strip()
        )
        return ProblemError(
            409,
            "Challenge closed" if error.state is ChallengeState.RESOLVED else "Conflict",
            said,
            ProblemCode.CHALLENGE_NOT_IN_THAT_STATE,
            state=error.state.value,
        )
    if isinstance(error, OpenChallengeExists):
        which = f" (challenge {error.challenge_id})" if error.challenge_id else ""
        return ProblemError(
            409,
            "Challenge already open",
            f"There is an open challenge on this achievement already{which}. Wait for the awarding organisation's"
            " answer, or withdraw that challenge first.",
            ProblemCode.CHALLENGE_ALREADY_OPEN,
            challenge_id=str(error.challenge_id) if error.challenge_id else None,
        )
    if isinstance(error, OnlyTheLearnerWithdraws):
        return ProblemError(
            422, "Invalid request", f"body.resolution: {ONLY_THE_LEARNER_WITHDRAWS_DETAIL}", ProblemCode.INVALID_REQUEST
        )
    if isinstance(error, CorrectingBatchRequired):
        return ProblemError(
            422,
            "Correcting batch",
            "A challenge resolved as corrected names the batch that corrected the data (correcting_batch_id);"
            " a challenge resolved otherwise names none.",
            ProblemCode.CORRECTING_BATCH_REQUIRED,
        )
    if isinstance(error, NoteRequired):
        return ProblemError(
            422,
            "Note required",
            f"Say why in the note, in words the learner will understand: a challenge resolved as {error.resolution}"
            f" ({resolution_label(error.resolution)}) changes nothing on their record, and the note is all they are"
            " told. The note was missing or empty.",
            ProblemCode.RESOLUTION_NOTE_REQUIRED,
            resolution=error.resolution,
        )
    if isinstance(error, CorrectingBatchDoesNotFit):
        detail = (
            "That batch's records reached the learner's record before the challenge was raised: it cannot have"
            " corrected what the learner challenged."
            if error.reason == "before_the_challenge"
            else "That batch is not one of yours that was completed with an accepted record of this learner's"
            " achievement of this qualification: it did not correct the challenged data."
        )
        return ProblemError(
            422,
            "Batch did not correct this achievement",
            detail,
            ProblemCode.CORRECTING_BATCH_DOES_NOT_FIT,
            reason=error.reason,
            batch_id=str(error.batch_id),
        )
    if isinstance(error, AchievementNotFound):
        return ProblemError(
            404,
            "Achievement not found",
            "No achievement an awarding organisation recorded with this id is on your learning record. A record a"
            " learning provider reported (source ILR) is challenged with that provider.",
            ProblemCode.ACHIEVEMENT_NOT_ON_RECORD,
        )
    if isinstance(error, AchievementIsWithdrawn):
        ao = f"{error.ao_name} ({error.ao_id})" if error.ao_name else error.ao_id
        return ProblemError(
            409,
            "Achievement withdrawn",
            f"The awarding organisation {ao} has withdrawn this achievement, so it no longer stands on your record"
            f" and there is nothing in it to challenge. If you think it should not have been withdrawn, contact {ao}"
            " about it; if you cannot reach them, contact the LRS service desk.",
            ProblemCode.ACHIEVEMENT_WITHDRAWN,
            ao_id=error.ao_id,
        )
    if isinstance(error, AwardingOrganisationMismatch):
        return ProblemError(
            422,
            "Wrong awarding organisation",
            "The achievement was recorded by another awarding organisation: leave out ao_id, or give the one your"
            " Personal Learning Record shows for it.",
            ProblemCode.ACHIEVEMENT_OF_ANOTHER_AO,
        )
    if isinstance(error, LearnerDataErased):
        return ProblemError(
            410,
            "Learner erased",
            "This learner's personal data was erased, so no challenge can be raised for them: nothing they write"
            " could be kept.",
            code=ProblemCode.LEARNER_ERASED,
        )
    if isinstance(error, EventsHeld):
        return ProblemError(
            409,
            "PLR incomplete",
            "Some of the events of your learning record are held for an operator to repair, so the grade and status"
            " a challenge would show the awarding organisation may not be what your record says. No challenge was"
            " raised. An operator is repairing your record: try again later.",
            code=ProblemCode.EVENTS_HELD_IN_DEAD_LETTERS,
        )
    if isinstance(error, RaisedTooOften):
        return _raised_too_often(error)
    if isinstance(error, RecordBehind):
        problem = ProblemError(
            503,
            "Not yet known",
            "Achievements recorded a moment ago are not yet known to the challenges service. Try again shortly.",
            code=ProblemCode.PROJECTION_PENDING,
        )
        problem.headers["Retry-After"] = "1"
        return problem
    raise error


def _the_minute_after(moment: datetime) -> datetime:
    """`moment` said to the minute without saying a time before it: 06:55:15 is 06:56 (06:55 would be refused)."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _said_done(event: str, challenge: Challenge, principal: Principal) -> None:
    """One line a change, by the challenge's id, so a log query on `challenge_id` finds it as the notifier's lines
    (`correlation_id`) and the request's (`request_id`, bound for the request) find theirs; who by kind and key id,
    never the learner's ULN or words."""
    _log.info(
        event,
        challenge_id=str(challenge.challenge_id),
        ao_id=challenge.ao_id,
        resolution=challenge.resolution.value if challenge.resolution else None,
        caller=principal.kind.value,
        key_id=principal.key_id,
    )


def _raised_too_often(error: RaisedTooOften) -> ProblemError:
    """429 with Retry-After: the seconds until the oldest of the raises counted leaves the window."""
    retry_after = max(1, math.ceil((error.until - datetime.now(UTC)).total_seconds()))
    hours = error.limit.window.total_seconds() / 3600
    window = f"{hours:g} hours" if hours != 1 else "hour"
    problem = ProblemError(
        429,
        "Challenged too often",
        f"This achievement has been challenged {error.limit.raises} times in the last {window}, the most allowed."
        f" No challenge was raised. You can raise one again from {day_and_time(_the_minute_after(error.until))}"
        " (UK time).",
        ProblemCode.CHALLENGE_RAISED_TOO_OFTEN,
        retry_after=retry_after,
    )
    problem.headers["Retry-After"] = str(retry_after)
    return problem


_DOMAIN_ERRORS = (
    ChallengeNotFound,
    NotAllowed,
    InvalidTransition,
    OpenChallengeExists,
    AchievementNotFound,
    AchievementIsWithdrawn,
    AwardingOrganisationMismatch,
    RecordBehind,
    EventsHeld,
    LearnerDataErased,
    CorrectingBatchRequired,
    CorrectingBatchDoesNotFit,
    NoteRequired,
    OnlyTheLearnerWithdraws,
    RaisedTooOften,
)


# The kind of caller each write route is open to, as dependencies: FastAPI solves them before it validates the body
# and the path, so a caller of another kind is told it may not (403), not what is wrong with what it sent (decision
# 0032). The service checks the same again (`NotAllowed`).
async def _learner_caller(principal: CurrentPrincipal) -> Principal:
    if principal.kind is not PrincipalKind.LEARNER:
        raise _translate(NotAllowed("Only a learner raises a challenge, against their own PLR."))
    return principal


async def _answering_caller(principal: CurrentPrincipal) -> Principal:
    if principal.kind not in (PrincipalKind.AO, PrincipalKind.OPERATOR):
        raise _translate(NotAllowed("Only the awarding organisation acknowledges and resolves challenges."))
    return principal


async def _withdrawing_caller(principal: CurrentPrincipal) -> Principal:
    if principal.kind not in (PrincipalKind.LEARNER, PrincipalKind.OPERATOR):
        raise _translate(NotAllowed(only_the_learner_withdraws(principal)))
    return principal


async def _correcting_batches_caller(principal: CurrentPrincipal) -> Principal:
    if principal.kind not in (PrincipalKind.AO, PrincipalKind.OPERATOR):
        raise _translate(
            NotAllowed(
                "The batches that may have corrected a challenged achievement are listed only to the awarding"
                " organisation that owns it and to operators: a learner reads their challenge, and how it was"
                " resolved, with GET /v1/challenges/{challenge_id}."
            )
        )
    return principal


LearnerCaller = Annotated[Principal, Depends(_learner_caller)]
# a challenge's reader: a provider is told it reads none before the challenge's id is read (the service checks the
# same again)
ChallengeReader = Annotated[
    Principal,
    Depends(caller_of_kind(PROVIDERS_READ_NONE, PrincipalKind.LEARNER, PrincipalKind.AO, PrincipalKind.OPERATOR)),
]
AnsweringCaller = Annotated[Principal, Depends(_answering_caller)]
WithdrawingCaller = Annotated[Principal, Depends(_withdrawing_caller)]
CorrectingBatchesCaller = Annotated[Principal, Depends(_correcting_batches_caller)]


@router.post(
    "",
    status_code=201,
    summary="Raise an Event Data Challenge (learners)",
    description=(
        "A learner reports a **data error** in one achievement on their own Personal Learning Record, "
        "Provisional results included. This is not an appeal against a result: appeals go to the awarding "
        "organisation. The AO is emailed at its challenge contact. One open challenge per achievement.\n\n"
        "The achievement is checked against the PLR log: one that is unknown or on another learner's record "
        "answers 404 (the two are not told apart); a withdrawn one 409 `ACHIEVEMENT_WITHDRAWN`, naming the AO "
        "that withdrew it (`ao_id`, and in `detail` its name) for the learner to turn to. The AO is the one that "
        "recorded the achievement. An achievement recorded a moment ago is waited for (a few seconds at most); if the "
        "service has still not caught up with the log, 503 `PROJECTION_PENDING` with `Retry-After`. While any of "
        "the learner's events (under any of their ULNs, a merged one included) are parked in the service's dead "
        "letters, nothing is raised: 409 `EVENTS_HELD_IN_DEAD_LETTERS` (its copy of the record may be out of date, "
        "and the challenge keeps the grade and status it shows); try again once an operator has retried or skipped "
        "them.\n\n"
        "The reason is published sealed under the learner's key. A learner whose personal data was erased "
        "raises no challenge: 410 `LEARNER_ERASED`.\n\n"
        "An achievement is challenged at most 3 times in 24 hours by default (withdrawn challenges included): one"
        " raise more is refused 429"
        " `CHALLENGE_RAISED_TOO_OFTEN`, `Retry-After` (and `retry_after`) the seconds until the oldest of those"
        " raises leaves the 24 hours. An open challenge is answered 409 `CHALLENGE_ALREADY_OPEN` first.\n\n"
        "Only a learner's own key raises a challenge: any other key, an operator's with `support` included, is "
        "answered 403 (operators read, acknowledge and resolve challenges; they do not raise them)."
    ),
    responses={
        201: {
            "description": "Raised: the challenge, open",
            "headers": {
                "Location": {
                    "description": "the challenge's address, `/v1/challenges/{challenge_id}`",
                    "schema": {"type": "string"},
                }
            },
        },
        **problem_responses(401, 403, 404, 409, 410, 422, 429, 503),
        404: problem_responses(404)[404]
        | {
            "description": "ACHIEVEMENT_NOT_ON_RECORD: no achievement an awarding organisation recorded with this id"
            " is on the learner's record (unknown and another learner's are not told apart)"
        },
        422: problem_responses(422)[422]
        | {
            "description": "ACHIEVEMENT_OF_ANOTHER_AO: `ao_id` names another AO than the one that recorded the"
            " achievement. Or the body is not a challenge (INVALID_REQUEST, MALFORMED_REQUEST)"
        },
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def raise_challenge(
    body: ChallengeCreate, principal: LearnerCaller, request: Request, response: Response
) -> ChallengePublic:
    try:
        challenge = await _service(request).raise_(principal, body.achievement_id, body.ao_id, body.reason)
    except _DOMAIN_ERRORS as error:
        raise _translate(error) from error
    _said_done("challenge_raised", challenge, principal)
    response.headers["Location"] = f"/v1/challenges/{challenge.challenge_id}"
    return ChallengePublic.of(challenge, principal)  # not withdrawn: a withdrawn achievement is not challenged (409)


@router.get(
    "",
    summary="List challenges",
    description=(
        "An AO sees the challenges against its own achievements; a learner sees the ones they raised; an "
        "operator everyone's. Newest first. `state` and `uln` may be given more than once (any of them "
        "matches): `state=raised&state=acknowledged` lists the open ones. A full page carries `next`: pass "
        "it back as `after` for the page that follows (the list goes on from the last challenge shown, so "
        "challenges raised meanwhile neither repeat nor shift a page). An AO's `ao_id` other than its own, or a "
        "learner's `uln` not theirs, is refused 403, as another AO's batches and reports are. An AO's `uln` names "
        "the learner: it finds a challenge raised, or on an achievement the AO recorded (`achievement.uln`), under "
        "any ULN of that learner, a ULN merged into it included. A learner's `uln` (any of "
        "theirs) names them: the ones they raised under every ULN of theirs. Each challenge describes its "
        "achievement (`achievement`: qualification, title, award date, grade, status, pathway, centre UKPRN, "
        "language for assessment and credits as they were when it was raised) to the learner as to the AO, and "
        "`achievement_withdrawn` whether the AO has withdrawn it since. To the AO, a challenge's `uln` is the ULN it recorded the achievement under (decision 0162).\n\n"
        "A `uln` no learner can have (a wrong check digit, RV002; the temporary ULN 9999999999, RV003) is answered "
        "422 with that rule's code, to every caller, before anything else is decided."
    ),
    responses=problem_responses(401, 403, 422),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def list_challenges(
    principal: CurrentPrincipal,
    request: Request,
    state: Annotated[list[ChallengeState] | None, Query(max_length=3)] = None,
    ao_id: AoFilter = None,
    uln: UlnFilter = None,
    after: PageAfter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChallengeList:
    _refuse_mistyped_ulns(uln)
    query = ChallengeQuery(
        states=frozenset(state) if state else None,
        ao_id=ao_id,
        ulns=frozenset(uln) if uln else None,
        after=after,
        limit=limit,
    )
    try:
        page = await _service(request).list(principal, query)
    except _DOMAIN_ERRORS as error:
        raise _translate(error) from error
    return ChallengeList(
        items=await _shown(request, principal, list(page.challenges)),
        next=page.next.token() if page.next else None,
    )


@router.get(
    "/open-counts",
    summary="How many open challenges there are, by state",
    description=(
        "The open challenges (raised or acknowledged) the caller may see, as `GET /v1/challenges` lists them: "
        "an AO's own, a learner's own, an operator anyone's; `ao_id` and `uln` narrow them as there, and a `uln` no "
        "learner can have is answered 422 with its rule's code (RV002, RV003) as there."
    ),
    responses=problem_responses(401, 403, 422),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def open_challenge_counts(
    principal: CurrentPrincipal,
    request: Request,
    ao_id: AoFilter = None,
    uln: UlnFilter = None,
) -> OpenChallengeCounts:
    _refuse_mistyped_ulns(uln)
    query = ChallengeQuery(ao_id=ao_id, ulns=frozenset(uln) if uln else None)
    try:
        counts = await _service(request).open_counts(principal, query)
    except _DOMAIN_ERRORS as error:
        raise _translate(error) from error
    raised, acknowledged = counts[ChallengeState.RAISED], counts[ChallengeState.ACKNOWLEDGED]
    return OpenChallengeCounts(open=raised + acknowledged, raised=raised, acknowledged=acknowledged)


@router.get(
    "/{challenge_id}",
    summary="One challenge",
    description="A learner reads the ones they raised, an AO those to its achievements, operators any (404 for"
    " another); a provider reads none (403).",
    responses=problem_responses(401, 403, 404),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def get_challenge(challenge_id: uuid.UUID, principal: ChallengeReader, request: Request) -> ChallengePublic:
    try:
        challenge = await _service(request).get(principal, challenge_id)
    except _DOMAIN_ERRORS as error:
        raise _translate(error) from error
    return await _one_shown(request, principal, challenge)


@router.get(
    "/{challenge_id}/correcting-batches",
    summary="The batches that may be named resolving a challenge as corrected (the owning AO)",
    description=(
        "The AO's completed batches with an accepted record of the challenged achievement — the same learner"
        " (any of their ULNs) and the achievement's qualification, whatever the award date — that reached the PLR"
        " log after the challenge was raised; newest first, at most 50. A batch decided a moment ago may not be"
        " listed yet."
    ),
    responses=problem_responses(401, 403, 404),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def correcting_batches(
    challenge_id: uuid.UUID, principal: CorrectingBatchesCaller, request: Request
) -> CorrectingBatchList:
    try:
        found = await _service(request).correcting_batches(principal, challenge_id)
    except _DOMAIN_ERRORS as error:
        raise _translate(error) from error
    return CorrectingBatchList(items=[CorrectingBatch.of(batch) for batch in found])


@router.post(
    "/{challenge_id}/acknowledge",
    summary="Acknowledge a challenge (the owning AO)",
    responses=problem_responses(401, 403, 404, 409)
    | {
        409: problem_responses(409)[409]
        | {
            "description": "CHALLENGE_NOT_IN_THAT_STATE: the challenge is not open (acknowledged already, resolved or"
            " withdrawn: `state` says which); nothing was changed"
        }
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def acknowledge_challenge(
    challenge_id: uuid.UUID, principal: AnsweringCaller, request: Request
) -> ChallengePublic:
    try:
        acknowledged = await _service(request).acknowledge(principal, challenge_id)
    except _DOMAIN_ERRORS as error:
        raise await _refusal(request, principal, challenge_id, error) from error
    _said_done("challenge_acknowledged", acknowledged.challenge, principal)
    return ChallengePublic.of(
        acknowledged.challenge, principal, achievement_withdrawn=acknowledged.achievement_withdrawn
    )


@router.post(
    "/{challenge_id}/resolve",
    summary="Resolve a challenge (the owning AO)",
    description=(
        "`corrected` means the AO has sent corrected data in a batch; the challenge itself changes no PLR. "
        "It names that batch in `correcting_batch_id`: a completed batch with an accepted record of the same "
        "learner and the achievement's qualification that reached the PLR after the challenge was raised "
        "(422 `CORRECTING_BATCH_DOES_NOT_FIT` otherwise, `reason` saying why; none named, or one named with "
        "another resolution: 422 `CORRECTING_BATCH_REQUIRED`). A batch decided a moment ago is waited for; if "
        "the service has not caught up with the log, 503 `PROJECTION_PENDING`.\n\n"
        "`upheld` and `rejected` change nothing on the PLR, so they say why in `note`, for the learner: without "
        "one, or with one of spaces or invisible characters alone, 422 `RESOLUTION_NOTE_REQUIRED`. "
        "The note is published sealed under the learner's key, and is not kept once the learner is erased: an erased "
        "learner's challenge (`personal_data_erased`) needs none."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def resolve_challenge(
    challenge_id: uuid.UUID, body: ChallengeResolve, principal: AnsweringCaller, request: Request
) -> ChallengePublic:
    try:
        resolved = await _service(request).resolve(
            principal, challenge_id, body.resolution, body.note, body.correcting_batch_id
        )
    except _DOMAIN_ERRORS as error:
        raise await _refusal(request, principal, challenge_id, error) from error
    _said_done("challenge_resolved", resolved.challenge, principal)
    return ChallengePublic.of(resolved.challenge, principal, achievement_withdrawn=resolved.achievement_withdrawn)


@router.post(
    "/{challenge_id}/withdraw",
    summary="Withdraw a challenge (the learner who raised it)",
    description=(
        "The learner who raised a challenge takes it back while it is open (`raised` or `acknowledged`): one raised"
        " by mistake (the wrong achievement), or an appeal sent as a data error (a challenge is for data errors only:"
        ' appeals go to the awarding organisation). It ends `resolved` with the resolution `withdrawn` ("Withdrawn by'
        ' the learner"), no note and no batch, by the learner (`resolved_by`), and the achievement may be challenged'
        " again (decision 0194). The learner withdraws one raised under any of their ULNs (a merged learner is one"
        " person); another learner's challenge is 404, as reading it is. An operator with `support` may withdraw it"
        " for the learner. The awarding organisation does not withdraw challenges, it resolves them (403).\n\n"
        "A resolved challenge, one withdrawn already included, is 409 `CHALLENGE_NOT_IN_THAT_STATE` with `state`"
        " `resolved`: a second withdrawal changes nothing, and `detail` says how it ended (withdrawn or resolved,"
        " and when)."
    ),
    responses=problem_responses(401, 403, 404, 409),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def withdraw_challenge(
    challenge_id: uuid.UUID, principal: WithdrawingCaller, request: Request
) -> ChallengePublic:
    try:
        withdrawn = await _service(request).withdraw(principal, challenge_id)
    except _DOMAIN_ERRORS as error:
        raise await _refusal(request, principal, challenge_id, error) from error
    _said_done("challenge_resolved", withdrawn.challenge, principal)
    return ChallengePublic.of(withdrawn.challenge, principal, achievement_withdrawn=withdrawn.achievement_withdrawn)
