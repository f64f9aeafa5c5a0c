"""Who may read which PLR, and what they see: pure rules over read-model rows."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lrs_contracts.codes import ProblemCode
from lrs_contracts.learner import AbilityToShare
from lrs_domain.identifiers import display_qan
from lrs_platform.identity import Principal, PrincipalKind
from plr_projector.projection import AchievementRow, CentreRow, HistoryEntry

# the member, not its text: centre_routes refuses an unlinked provider's report with it too
PROVIDER_NOT_LINKED = ProblemCode.PROVIDER_NOT_LINKED
NOT_LINKED_DETAIL = (
    "Your organisation is not linked to this learner: a provider reads the PLR of, and reports centre"
    " achievements for, the learners it registered or an operator linked it to."
)


class AccessDenied(Exception):
    """The caller may not read this PLR; `code` is the real service's code where there is one. No HTTP status: the
    routes answer it (403, or 410 for `LearnerErasedForProviders`)."""

    def __init__(self, detail: str, code: ProblemCode | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class LearnerErasedForProviders(AccessDenied):
    """The learner was erased: their PLR is gone for providers (410, as validation answers them), not forbidden."""

    def __init__(self) -> None:
        super().__init__(
            "This ULN's learner was erased: no provider reads a PLR of theirs any more.", ProblemCode.LEARNER_ERASED
        )


@dataclass(frozen=True)
class LearnerGroup:
    """A learner and every ULN merged into them; `master_uln` is the surviving ULN."""

    requested_uln: str
    master_uln: str
    ulns: tuple[str, ...]
    registered: bool
    ability_to_share: int
    linked_providers: frozenset[str] = frozenset()  # UKPRNs linked to any of `ulns` (decision 0121)
    erased: bool = False  # one of `ulns` erased (`erased_learners`, decision 0160); known, as links, for providers


@dataclass(frozen=True)
class Audience:
    """What a caller sees of a PLR once access is granted."""

    ao_id: str | None  # only this AO's achievements
    centre_data: bool
    may_include_withdrawn: bool
    may_include_history: bool


def audience_for(principal: Principal, group: LearnerGroup) -> Audience:
    """Decides access from the principal alone (never from request fields).

    A provider reads only a learner it is linked to (decision 0121: refused alike whether or not the
    ULN is registered, so it learns nothing of other learners), never once the learner was erased, under
    any of their ULNs (410, as validation answers it: the links outlive the erasure, the reading does not),
    and only while they share: ability to share 0 (notice not seen) is treated like 1, only an explicit 2
    refuses (decision 0012).
    """
    if principal.kind is PrincipalKind.OPERATOR:
        return Audience(None, centre_data=True, may_include_withdrawn=True, may_include_history=True)
    if principal.kind is PrincipalKind.LEARNER:
        if principal.id not in group.ulns:
            raise AccessDenied("A learner may read only their own PLR.")
        return Audience(None, centre_data=True, may_include_withdrawn=True, may_include_history=True)
    if principal.kind is PrincipalKind.AO:
        return Audience(principal.id, centre_data=False, may_include_withdrawn=True, may_include_history=True)
    if principal.kind is PrincipalKind.PROVIDER:
        if principal.id not in group.linked_providers:
            raise AccessDenied(NOT_LINKED_DETAIL, ProblemCode.PROVIDER_NOT_LINKED)
        if group.erased:
            raise LearnerErasedForProviders()
        if group.ability_to_share == AbilityToShare.UNABLE_TO_SHARE:
            raise AccessDenied(
                "The learner has chosen not to share their Personal Learning Record.",
                ProblemCode.LEARNER_DOES_NOT_SHARE,
            )
        return Audience(None, centre_data=True, may_include_withdrawn=False, may_include_history=False)
    raise AccessDenied(f"{principal.kind.value} callers cannot read a PLR.")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class History(dict[tuple[str, str, str, Any], list[HistoryEntry]]):
    """An achievement's versions by its key (`ReadModel.history`), and the event ids of the versions made from an
    operator's corrected copy of a parked event (`lrs dlq retry --replacement`): each is shown as such, for the
    copy, not the AO, wrote what the version says."""

    def __init__(
        self,
        versions: Mapping[tuple[str, str, str, Any], list[HistoryEntry]] | None = None,
        corrected_by_operator: Collection[uuid.UUID] = (),
    ) -> None:
        super().__init__(versions or {})
        self.corrected_by_operator = frozenset(corrected_by_operator)


def history_view(
    entries: Iterable[HistoryEntry], corrected_by_operator: Collection[uuid.UUID] = frozenset()
) -> list[dict[str, Any]]:
    return [
        {
            "version": entry.version,
            "change": entry.change,
            "occurred_at": _iso(entry.occurred_at),
            "batch_id": str(entry.batch_id),
            "line": entry.line,
            "event_id": str(entry.event_id),
            "status": entry.status,
            "withdrawn": entry.withdrawn,
            "grade": entry.grade,
            "achievement_provider_ukprn": entry.ukprn,
            "language_for_assessment": entry.language_for_assessment,
            "credits": entry.credits,
            "pathway": entry.pathway,
            "corrected_by_operator": entry.event_id in corrected_by_operator,
        }
        for entry in sorted(entries, key=lambda entry: entry.version)
    ]


def _centre_view(row: CentreRow) -> dict[str, Any]:
    return {
        "id": str(row.report_id),
        "source": "ILR",
        "uln": row.uln,
        "subject_code": display_qan(row.qualification_number),
        "subject": row.subject,
        "qualification_type": None,
        "level": None,
        "grade": row.grade,
        "achievement_award_date": row.award_date.isoformat() if row.award_date else None,
        "awarding_organisation_name": None,
        "awarding_organisation_ukprn": None,
        "achievement_provider_ukprn": row.provider_ukprn,
        "achievement_provider_name": row.provider_name,
        "credits": None,
        "status": None,
        "date_loaded": _iso(row.reported_at),
        "under_data_challenge": "N",
        "language_for_assessment": None,
        "participation_start_date": row.participation_start_date.isoformat() if row.participation_start_date else None,
        "participation_end_date": row.participation_end_date.isoformat() if row.participation_end_date else None,
        "withdrawn": False,
    }


def _achievement_view(row: AchievementRow, challenged: bool) -> dict[str, Any]:
    return {
        "id": str(row.achievement_id),
        "source": "AO",
        "uln": row.uln,
        "subject_code": display_qan(row.qualification_number),
        "subject": row.title,
        "qualification_type": row.qualification_type,
        "level": row.level,
        "grade": row.grade,
        "achievement_award_date": row.award_date.isoformat(),
        "awarding_organisation_name": row.awarding_organisation_name,
        "awarding_organisation_id": row.ao_id,
        "achievement_provider_ukprn": row.ukprn,
        "credits": row.credits,
        "status": row.status,
        "date_loaded": _iso(row.date_loaded),
        "under_data_challenge": "Y" if challenged else "N",
        "language_for_assessment": row.language_for_assessment,
        "pathway": row.pathway,
        "withdrawn": row.withdrawn,
    }


def withdrawn_not_shown(audience: Audience, achievements: Sequence[AchievementRow], *, include_withdrawn: bool) -> int:
    """How many withdrawn achievements the audience may ask for (`include_withdrawn`) but were left out: said, so
    that an achievement that vanished from the PLR is known to be withdrawn rather than lost."""
    if include_withdrawn and audience.may_include_withdrawn:
        return 0
    return sum(1 for row in achievements if row.withdrawn and audience.ao_id in (None, row.ao_id))


def learning_events(
    audience: Audience,
    achievements: Sequence[AchievementRow],
    centre: Sequence[CentreRow],
    challenged: set[uuid.UUID],
    history: Mapping[tuple[str, str, str, Any], list[HistoryEntry]],
    *,
    include_withdrawn: bool,
    include_history: bool,
) -> list[dict[str, Any]]:
    """The learning events the audience sees, newest award first.

    AO data has precedence (DOMAIN rule 12): a centre record of a qualification for which a live AO
    achievement exists is not a learning event of its own; it is shown as `supporting_records` of
    the AO achievement. Which of the two arrived first does not matter: this is decided at read time.
    """
    include_withdrawn = include_withdrawn and audience.may_include_withdrawn
    include_history = include_history and audience.may_include_history
    corrected = history.corrected_by_operator if isinstance(history, History) else frozenset()
    live_ao_qans = {row.qualification_number for row in achievements if not row.withdrawn}
    supporting: dict[str, list[dict[str, Any]]] = {}
    events: list[dict[str, Any]] = []
    if audience.centre_data:
        for centre_row in centre:
            view = _centre_view(centre_row)
            if centre_row.qualification_number in live_ao_qans:
                supporting.setdefault(centre_row.qualification_number, []).append(view)
            else:
                events.append(view)
    for row in achievements:
        if audience.ao_id is not None and row.ao_id != audience.ao_id:
            continue
        if row.withdrawn and not include_withdrawn:
            continue
        view = _achievement_view(row, row.achievement_id in challenged)
        if audience.centre_data:
            view["supporting_records"] = sorted(
                supporting.get(row.qualification_number, []), key=lambda item: item["id"]
            )
        if include_history:
            view["history"] = history_view(history.get(row.key, []), corrected)
        events.append(view)
    events.sort(key=lambda item: (item["achievement_award_date"] or "", item["subject_code"], item["id"]), reverse=True)
    return events
