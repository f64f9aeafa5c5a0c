"""Submitted records' personal details, opened at the edge so the rules see plain records. Pure, no I/O.

Ingest seals a record's given and family name, date of birth and gender under the learner's key
(`lrs_platform.keyring`, decision 0080), and those of a record that names no learner (its ULN missing,
not ten digits, with a wrong check digit, or the temporary ULN) under its batch's own key (decisions 0106,
0154, 0175). The decider finds the batch's keys in
one call (and the batch's own in a second, only when `sealed_without_learner_key`), then
`open_personal` gives the rules records with those four fields in clear: a record that names no
learner is then rejected as before (RV001), and the batch's key is destroyed once its decision is stored. A record whose details
cannot be had is unverifiable: its learner was erased (ingest said so, or the key is erased now), or
its seal does not open (no key, tampered, another learner's). Such a record keeps no personal field,
so the rules reject it (its names are missing), and `with_unverifiable_learners` then says why in
one RV004 instead of RV021s about fields that were dropped on purpose. An erased learner's record whose
details ingest sealed under the batch's own key (decision 0157) keeps them: the rules judge them as any
record's (RV021 for a missing name, a malformed date of birth), and its RV004 alone says why, so that a
deliberately bad detail draws the same findings for an erased learner as for a live one whose details differ.

That a learner was erased is said only to an AO that holds an achievement of theirs, under any of their
ULNs (`ulns_told_erased`), as the AO view's `learner_erased` is: any other AO's record gets RV004's
message for details that do not match, so that no AO learns of an erasure by sending a record for a ULN
(docs/privacy.md, decision 0157).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from lrs_contracts.batch import SubmittedRecord
from lrs_contracts.codes import RecordCode
from lrs_contracts.outcomes import Finding, RecordOutcome
from lrs_domain.decision import BatchDecision
from lrs_domain.identifiers import TEMPORARY_ULN, is_valid_uln
from lrs_domain.merges import LearnerMerges
from lrs_domain.rules import NO_LEARNERS_ULN_CODES, details_do_not_match, order_findings
from lrs_domain.trusted import trusted_builder, trusted_from
from lrs_platform.keyring import PERSONAL_FIELDS, UNKEYED_RECORDS, Erased, LearnerKey, Purpose, SealBroken

ERASED_LEARNER: Final = (
    "the learner's record was erased: no achievement can be recorded, changed or withdrawn for this ULN any more"
)
UNREADABLE_DETAILS: Final = "the learner's details could not be read"

_WITHOUT_PERSONAL: Final[dict[str, Any]] = {name: None for name in (*PERSONAL_FIELDS, "personal")}
_SEALED_NAMES: Final = frozenset(PERSONAL_FIELDS)
_SUBMITTED_RECORD: Final = (
    Purpose.SUBMITTED_RECORD
)  # read once: an enum member read from its class is a descriptor call
_TEXT_OR_NONE: Final = frozenset({str, type(None)})
_loads: Final = orjson.loads
_trusted_record: Final = trusted_builder(SubmittedRecord)


@dataclass(frozen=True, slots=True)
class OpenedRecords:
    """The records as the rules read them, and why the learner of some cannot be verified (by index)."""

    records: tuple[SubmittedRecord, ...]
    unverifiable: dict[int, str]
    # those of `unverifiable` whose details were opened and judged (an erased learner's, sealed under the
    # batch's own key): only their RV004 says why, their findings about those details stay
    details_judged: frozenset[int] = frozenset()


def ulns_to_look_up(records: Sequence[SubmittedRecord]) -> tuple[set[str], bool]:
    """Every ULN a batch names that a learner can have (a sealed record needs its key, and any record of an
    erased learner is refused), and whether a record is sealed under the batch's own key: one that names none, or
    an erased learner's whose details ingest sealed there (decision 0157). A ULN no learner can have (the
    temporary ULN, a wrong check digit) names none: ingest seals its records under the batch's own key
    (decisions 0154, 0175), whatever key an older batch left under it."""
    # the ULNs of the records whose learner ingest did not find erased: a list, whose length says whether any was
    not_erased = [record.uln for record in records if not record.learner_erased]
    named = set(not_erased)
    ulns = {uln for uln in named if uln is not None and is_valid_uln(uln)}
    # an erased learner's details are sealed under the batch's own key, or were dropped (an older ingest, or no
    # details): only sealed ones need that key. A batch of live learners' records is not read again for it.
    erased_sealed = len(not_erased) < len(records) and any(
        record.learner_erased and record.personal is not None for record in records
    )
    return ulns, len(ulns) < len(named) or erased_sealed


def sealed_without_learner_key(records: Sequence[SubmittedRecord], keys: Mapping[str, LearnerKey | Erased]) -> bool:
    """Whether some record's details are sealed under no key of its learner's: under its batch's own (those of
    a record that names no learner, or an erased learner's)."""
    return any(
        record.personal is not None and (record.learner_erased or record.uln is None or record.uln not in keys)
        for record in records
    )


def erased_ulns(records: Sequence[SubmittedRecord], keys: Mapping[str, LearnerKey | Erased]) -> set[str]:
    """The ULNs a learner can have that the records name and whose learner was erased (ingest said so, or the
    key is erased now): those `open_personal` rejects as an erased learner's."""
    get_key = keys.get
    return {
        uln
        for record in records
        if (uln := record.uln) is not None
        and is_valid_uln(uln)
        and (record.learner_erased or isinstance(get_key(uln), Erased))
    }


def learners_ulns(ulns: Iterable[str], merges: LearnerMerges) -> set[str]:
    """Every ULN of the learners of `ulns`, merges followed: where an achievement of theirs may be recorded."""
    return {each for uln in ulns for each in merges.ulns_of(uln)}


def ulns_told_erased(erased: Iterable[str], merges: LearnerMerges, held: Collection[str]) -> frozenset[str]:
    """The erased ULNs whose erasure the batch's AO is told of: those of a learner it holds an achievement of
    (`held`: the ULNs of `learners_ulns(erased, merges)` with one of the AO's achievements, of any state)."""
    return frozenset(uln for uln in erased if any(each in held for each in merges.ulns_of(uln)))


def open_personal(
    records: Sequence[SubmittedRecord],
    keys: Mapping[str, LearnerKey | Erased],
    told_erased: Container[str] = frozenset(),
) -> OpenedRecords:
    """The records with their details opened; `keys` holds the batch's own key, if it has one, under
    UNKEYED_RECORDS. An erased learner's record says so only when its ULN is in `told_erased`
    (`ulns_told_erased`); otherwise it reads as a record whose details do not match."""
    opened: list[SubmittedRecord] = []
    append = opened.append
    unverifiable: dict[int, str] = {}
    details_judged: set[int] = set()
    get_key = keys.get
    batch_key = get_key(UNKEYED_RECORDS)
    if isinstance(batch_key, Erased):  # destroyed: the batch was decided, or abandoned
        batch_key = None
    for index, record in enumerate(records):
        fields = record.__dict__
        uln = fields["uln"]
        # `keys` has none of a ULN no learner can have (`ulns_to_look_up`); the temporary ULN's, said again
        key = get_key(uln) if uln is not None and uln != TEMPORARY_ULN else None
        why: str | None = None
        if fields["learner_erased"] or isinstance(key, Erased):
            why = ERASED_LEARNER if uln is None or uln in told_erased else details_do_not_match(uln)
            # sealed under the batch's own key by ingest (decision 0157): judged as any record's details, so a
            # deliberately bad one draws the findings it draws for a live learner, not RV004 alone
            if (
                fields["learner_erased"]
                and (sealed := fields["personal"]) is not None
                and (details := _opened(batch_key, sealed)) is not None
            ):
                if uln is not None and uln not in told_erased:  # word for word a live learner's, from its names too
                    why = details_do_not_match(uln, *_names_of(details))
                unverifiable[index] = why
                details_judged.add(index)
                append(_trusted_record(fields | details))
                continue
        elif (sealed := fields["personal"]) is not None:
            details = _opened(batch_key if key is None else key, sealed)
            if details is None:
                why = UNREADABLE_DETAILS
            else:
                # every key of `details` is a field: the merged values keep the fields' order
                record = _trusted_record(fields | details)
        if why is not None:
            unverifiable[index] = why
            record = _with(record, _WITHOUT_PERSONAL)
        append(record)
    return OpenedRecords(tuple(opened), unverifiable, frozenset(details_judged))


def _names_of(details: dict[str, Any]) -> tuple[str | None, str | None]:
    """The given and family names of opened details (text or None, `_opened`): what RV004's message says of a name
    written with a typographic apostrophe or hyphen (`details_do_not_match`) is said of an erased learner's record
    as of a live one's (decision 0157)."""
    return details.get("given_name"), details.get("family_name")


def _with(record: SubmittedRecord, values: dict[str, Any]) -> SubmittedRecord:
    """The record with `values` in place of its own: the types it holds, so nothing to validate again."""
    return trusted_from(SubmittedRecord, {**record.__dict__, **values})


def _opened(key: LearnerKey | None, sealed: str) -> dict[str, Any] | None:
    """The four fields in clear (and `personal` cleared), or None when they cannot be had."""
    if key is None:
        return None
    try:
        values = _loads(key.open(_SUBMITTED_RECORD, sealed))
    except (SealBroken, ValueError):
        return None
    if type(values) is not dict:
        return None
    # as ingest seals them, the object itself is the details once its values are checked
    details = values if values.keys() == _SEALED_NAMES else {name: values.get(name) for name in PERSONAL_FIELDS}
    if not _TEXT_OR_NONE.issuperset(map(type, details.values())):  # one C pass over the four values
        return None
    details["personal"] = None
    return details


def with_unverifiable_learners(
    decision: BatchDecision, unverifiable: Mapping[int, str], details_judged: Container[int] = frozenset()
) -> BatchDecision:
    """The decision with each unverifiable record's RV004 saying why, in place of the findings about its
    dropped personal fields; a record of `details_judged` (`OpenedRecords.details_judged`) keeps those about
    its details, which were there. Those records were rejected already (their names are missing, or their
    erased learner is not registered), so no count, event or state changes."""
    if not unverifiable:
        return decision
    outcomes = list(decision.outcomes)
    for index, why in unverifiable.items():
        outcomes[index] = _unverifiable(outcomes[index], why, index in details_judged)
    return dataclasses.replace(decision, outcomes=tuple(outcomes))


def _unverifiable(outcome: RecordOutcome, why: str, details_judged: bool = False) -> RecordOutcome:
    """A ULN no learner can have (RV001-RV003) is already the reason, and a precise one: it is not also "not
    verified" (docs/rules.md), even when what an AO's batch once carried under it was erased (decision 0132)."""
    kept = [
        finding
        for finding in outcome.errors
        if finding.code != RecordCode.LEARNER_NOT_VERIFIED
        and (
            details_judged
            or not (finding.code == RecordCode.FIELD_MISSING_OR_TOO_LONG and finding.field in PERSONAL_FIELDS)
        )
    ]
    if any(finding.code in NO_LEARNERS_ULN_CODES for finding in kept):
        return outcome.model_copy(update={"errors": order_findings(kept)})
    learner = Finding(code=RecordCode.LEARNER_NOT_VERIFIED, field="uln", message=why)
    return outcome.model_copy(update={"errors": order_findings([*kept, learner])})
