"""What the notifier sends, composed from events alone: pure, no I/O.

Every email has a plain-text and an HTML alternative rendered from the Jinja2 templates beside this
module, and an absolute link to the page where the AO acts on it (the portal, `public_base_url`).
The Message-ID is derived from the event id, so a redelivered event produces the very same email and
a receiving system can drop the duplicate (at-least-once delivery, DESIGN.md §5 invariant 3).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lrs_contracts.challenge import (
    RESOLUTION_LABELS,
    ChallengedAchievement,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.codes import (
    BATCH_CODE_TITLES,
    RECORD_CODE_TITLES,
    WARNING_CODE_TITLES,
    BatchCode,
    RecordCode,
    WarningCode,
)
from lrs_contracts.fast_decode import Flagged
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchCounts,
    BatchFailed,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.plr import ResultStatus
from lrs_contracts.text import shown_on_one_line, with_bidi_controls_shown
from lrs_domain.direct_entry import is_direct_entry_reference
from lrs_domain.identifiers import display_qan
from lrs_platform.clock import long_day, time_on_day
from lrs_platform.logging import mask_uln
from lrs_platform.mail import new_email

TOP_REJECTION_CODES = 5

_templates = Environment(
    loader=PackageLoader("notifier", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class ChallengeContact:
    """An AO's contact for Event Data Challenges (DOMAIN.md §5 rule 13)."""

    given_name: str
    family_name: str
    telephone: str
    email: str


@dataclass(frozen=True)
class ServiceDesk:
    """The LRS service desk, as the emails name it (`NOTIFIER_SERVICE_DESK_*`): every part optional. With an email
    address, replies go to it (Reply-To); without one, the emails say replies are not read."""

    email: str | None = None
    phone: str | None = None
    hours: str | None = None
    # the portal's page on contacting the desk (`{NOTIFIER_PUBLIC_BASE_URL}/help/contact`): named when neither an
    # address nor a telephone is set, so an email that asks the AO to contact the desk is not a dead end
    page: str | None = None

    @property
    def reached(self) -> str | None:
        """How to reach it, to follow "the LRS service desk": "at desk@lrs.example or on 0300 303 2000 (Monday to
        Friday, 9am to 5pm)"; with neither an address nor a telephone, where the portal says how (its hours alone
        reach no one); None without that page either."""
        ways = [f"at {self.email}" if self.email else None, f"on {self.phone}" if self.phone else None]
        said = " or ".join(way for way in ways if way)
        if not said:
            return f"(its page {self.page} says how)" if self.page else None
        return f"{said} ({self.hours})" if self.hours else said


NO_SERVICE_DESK = ServiceDesk()


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    date: datetime
    reply_to: str | None = None  # the service desk's address, if one is set
    # the Message-ID of the email it follows (a withdrawal's notice: its challenge's raise notice), which mail clients
    # thread it under (In-Reply-To, References)
    in_reply_to: str | None = None


@dataclass(frozen=True)
class RejectionCount:
    """How many records of a batch were rejected with `code`, or warned of with it (a record with two codes
    counts under both)."""

    code: str
    records: int
    # of `records`, those whose finding says the learner's record was erased (RV004 alone: `ERASED_TALLY`)
    erased: int = 0

    @property
    def meaning(self) -> str:
        return _RECORD_TITLES.get(self.code, "")

    @property
    def note(self) -> str | None:
        """Said under the code's line: what its title leaves out and the AO must not do. RV004's, only when one of
        its records says the learner's record was erased: nearly every RV004 is a detail typed wrong, and to say it
        under each read as "do not correct RV004"."""
        return _REJECTION_NOTES.get(self.code) if self.erased else None


@dataclass(frozen=True)
class UnlistedRejections:
    """Rejection codes of a batch left out of its email's list of the most frequent, and their records."""

    codes: int
    records: int


class BatchVerdict(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # RS005: every record was judged, too many were rejected
    REFUSED = "refused"  # any other RS code: the file itself could not be taken


_RECORD_TITLES: dict[str, str] = {
    code.value: title for code, title in (*RECORD_CODE_TITLES.items(), *WARNING_CODE_TITLES.items())
}
_WARNING_CODES = frozenset(code.value for code in WarningCode)
# The email counts codes, and one thing a finding says: every record of an erased learner is RV004 too, and no
# correction can change that. Validation says so in the finding's message (`validation.personal.ERASED_LEARNER`), and
# only to an AO holding one of their achievements (decision 0157), so the email says no more than the record's page.
_REJECTION_NOTES: dict[str, str] = {
    RecordCode.LEARNER_NOT_VERIFIED.value: "A record whose RV004 says the learner's record was erased cannot be"
    " corrected: the LRS records nothing more for that ULN, so leave it out of your next batches.",
}
_ERASED_SAID = "the learner's record was erased"
ERASED_TALLY = "RV004-erased"
"""Counted beside the codes (`count_record_codes`): the rejected records whose RV004 says the learner's record was
erased. Not a code: the ranking and the email's list leave it out, and it goes with RV004's line (`top_rejections`)."""
_NOT_VERIFIED = RecordCode.LEARNER_NOT_VERIFIED.value
ERASED_FLAGGED = Flagged(_NOT_VERIFIED, _ERASED_SAID, ERASED_TALLY)
"""`ERASED_TALLY` as the consumer's fast reading of a decided chunk counts it (`lrs_contracts.fast_decode`)."""


def message_id_for(event_id: uuid.UUID, domain: str = "lrs.local") -> str:
    return f"<{event_id}@{domain}>"


def batch_page_url(public_base_url: str, batch_id: uuid.UUID) -> str:
    return f"{public_base_url.rstrip('/')}/batches/{batch_id}"


def challenge_page_url(public_base_url: str, challenge_id: uuid.UUID) -> str:
    return f"{public_base_url.rstrip('/')}/challenges/{challenge_id}"


def count_record_codes(outcomes: Iterable[RecordOutcome]) -> dict[str, int]:
    """Rejected records per RV code, and records per WV code whatever their outcome; a code repeated on one
    record (two RV021 fields) counts it once. Also, under `ERASED_TALLY`, the rejected records whose RV004 says the
    learner's record was erased."""
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome.status is RecordStatus.REJECTED:
            counts.update({finding.code for finding in outcome.errors})
            if ERASED_FLAGGED.of([finding.model_dump() for finding in outcome.errors]):
                counts[ERASED_TALLY] += 1
        counts.update({finding.code for finding in outcome.warnings})
    return dict(counts)


def split_warnings(counts: dict[str, int]) -> tuple[dict[str, int], list[RejectionCount]]:
    """`counts` as its rejection codes, and its warning codes, most frequent first (there are few)."""
    rejections = {code: records for code, records in counts.items() if code not in _WARNING_CODES}
    warnings = {code: records for code, records in counts.items() if code in _WARNING_CODES}
    return rejections, top_rejections(warnings, limit=len(_WARNING_CODES))


def top_rejections(counts: dict[str, int], limit: int = TOP_REJECTION_CODES) -> list[RejectionCount]:
    """The most frequent codes first; ties in code order, so the same counts always read the same. RV004's says how
    many of its records say the learner's record was erased (`ERASED_TALLY`, which is not listed)."""
    erased = counts.get(ERASED_TALLY, 0)
    ranked = sorted(
        ((code, n) for code, n in counts.items() if code != ERASED_TALLY), key=lambda item: (-item[1], item[0])
    )
    return [RejectionCount(code, records, erased if code == _NOT_VERIFIED else 0) for code, records in ranked[:limit]]


def unlisted_rejections(counts: dict[str, int], listed: Sequence[RejectionCount]) -> UnlistedRejections:
    """The codes of `counts` not in `listed`, and their records (a record with two codes counts under both,
    as in the list)."""
    shown = {rejection.code for rejection in listed}
    rest = [records for code, records in counts.items() if code not in shown and code != ERASED_TALLY]
    return UnlistedRejections(len(rest), sum(rest))


def verdict_of(outcome: BatchCompleted | BatchFailed) -> BatchVerdict:
    if isinstance(outcome, BatchCompleted):
        return BatchVerdict.COMPLETED
    return BatchVerdict.FAILED if outcome.code == BatchCode.REJECTION_THRESHOLD else BatchVerdict.REFUSED


class EntryResult(StrEnum):
    """What became of a direct entry: the one achievement a person typed into the portal's form, sent as a batch of
    that one record (decision 0152)."""

    ACCEPTED = "accepted"
    UNCHANGED = "unchanged"  # the PLR already held it as entered
    REJECTED = "rejected"  # RS005 for its batch: the one record rejected is more than the share allowed
    REFUSED = "refused"  # any other RS code


def entry_result_of(outcome: BatchCompleted | BatchFailed) -> EntryResult | None:
    """What became of the direct entry `outcome` decided; None when its batch is not one. The events say nothing of
    where a batch came from, so a direct entry is known as the portal knows it: one record under the reference its
    form gives (`lrs_domain.direct_entry`)."""
    if outcome.counts.total != 1 or not is_direct_entry_reference(outcome.batch_reference):
        return None
    verdict = verdict_of(outcome)
    if verdict is BatchVerdict.REFUSED:
        return EntryResult.REFUSED
    if verdict is BatchVerdict.FAILED or outcome.counts.rejected:
        return EntryResult.REJECTED
    return EntryResult.UNCHANGED if outcome.counts.no_ops else EntryResult.ACCEPTED


def batch_run_email(
    event_id: uuid.UUID,
    outcome: BatchCompleted | BatchFailed,
    *,
    public_base_url: str,
    rejections: Sequence[RejectionCount] = (),
    unlisted: UnlistedRejections = UnlistedRejections(0, 0),
    warnings: Sequence[RejectionCount] = (),
    domain: str = "lrs.local",
    ao_name: str | None = None,
    desk: ServiceDesk = NO_SERVICE_DESK,
    sandpit: bool = False,
    composed_at: datetime | None = None,
) -> OutgoingEmail:
    """`composed_at`: when the email is made to be sent (now; None: when the batch was decided). One sent more than
    `LATE_AFTER` after the decision (set aside for a recipient refused for now, held while the relay was away) is
    dated when it is sent, so that mail clients file it where it arrives, and says it was delayed; every batch email
    says when the batch was decided (UK time). `rejections`: the codes listed; `unlisted`: those left out of the list, which the email says exist;
    `warnings`: every warning code and its records. `ao_name`: the batch's AO's name in the reference data, if it
    is there. The subject names the AO by its id, the body by its id and name: a results team that receives the
    batches of several AO ids (a group's RN numbers) tells them apart. `sandpit`: the Sandpit's notifier sends it,
    and the body says where the Sandpit's accepted records are and how long it keeps the batch. A direct entry (one
    achievement a person typed into the portal, `entry_result_of`) is told as that entry's result, not a batch's: no
    counts, no RS005 share, and to correct it and enter it again when it was rejected."""
    verdict = verdict_of(outcome)
    reference = shown_on_one_line(outcome.batch_reference or str(outcome.batch_id))
    ao_id = shown_on_one_line(outcome.ao_id)
    code = outcome.code if isinstance(outcome, BatchFailed) else None
    which = _which_batch(outcome.batch_reference, outcome.batch_id)
    entry = entry_result_of(outcome)
    if entry is None:
        subject = {
            BatchVerdict.COMPLETED: f"LRS batch completed: {ao_id} {reference} ({_tally(outcome.counts)}){which}",
            BatchVerdict.FAILED: f"LRS batch failed ({code}), nothing recorded: {ao_id} {reference}{which}",
            BatchVerdict.REFUSED: f"LRS batch refused ({code}), nothing recorded: {ao_id} {reference}{which}",
        }[verdict]
    else:  # one achievement a person entered, not a batch they made: no batch's counts, no share of rejections
        subject = {
            EntryResult.ACCEPTED: f"LRS direct entry accepted: {ao_id} {reference}{which}",
            EntryResult.UNCHANGED: f"LRS direct entry changed nothing, already recorded: {ao_id} {reference}{which}",
            EntryResult.REJECTED: f"LRS direct entry rejected, not recorded: {ao_id} {reference}{which}",
            EntryResult.REFUSED: f"LRS direct entry refused ({code}), not recorded: {ao_id} {reference}{which}",
        }[entry]
    context = {
        "verdict": verdict.value,
        "entry": entry.value if entry is not None else None,
        "ao": _ao_shown(ao_id, ao_name),
        "reference": reference,
        "given_reference": _given_reference(outcome.batch_reference),
        "outcome": outcome,
        "counts": outcome.counts,
        "code": code,
        "code_title": _batch_title(code),
        # RS005's reason is a batch's share of rejected records: for one entry, only that it was rejected
        "reason": outcome.reason if isinstance(outcome, BatchFailed) and entry is not EntryResult.REJECTED else None,
        "rejections": list(rejections),
        # some record's RV004 says the learner's record was erased: "correct them" is not for that one
        "not_all_correctable": any(rejection.note for rejection in rejections),
        "warned": list(warnings),
        "link": batch_page_url(public_base_url, outcome.batch_id),
        "more_codes": unlisted.codes,
        "more_records": unlisted.records,
        "desk": desk,
        "sandpit": sandpit,
        "decided": _uk_time(outcome.decided_at),
        "delayed": composed_at is not None and composed_at - outcome.decided_at > LATE_AFTER,
    }
    return OutgoingEmail(
        to=outcome.notification_email,
        subject=subject,
        text=_templates.get_template("batch_run.txt").render(context),
        html=_templates.get_template("batch_run.html").render(context),
        message_id=message_id_for(event_id, domain),
        date=composed_at if context["delayed"] and composed_at is not None else outcome.decided_at,
        reply_to=desk.email,
    )


def _which_batch(reference: str | None, batch_id: uuid.UUID) -> str:
    """The end of a batch's subject that names it by the start of its id: the same file sent again is a new batch, and
    its email's subject is not the first's (two completions of one reference with the same counts read alike, and
    mail clients showed them as one conversation). Nothing when there is no reference: the subject has the id."""
    return f" (batch {str(batch_id)[:8]})" if reference else ""


def _tally(counts: BatchCounts) -> str:
    """What a completed batch did, for its subject."""
    said = [f"{counts.accepted:,} of {counts.total:,} accepted"]
    if counts.rejected:
        said.append(f"{counts.rejected:,} rejected")
    if counts.no_ops:
        said.append(f"{counts.no_ops:,} unchanged")
    return ", ".join(said)


def batch_abandoned_email(
    event_id: uuid.UUID,
    abandoned: BatchAbandoned,
    to: str,
    *,
    public_base_url: str,
    domain: str = "lrs.local",
    ao_name: str | None = None,
    desk: ServiceDesk = NO_SERVICE_DESK,
) -> OutgoingEmail:
    """The AO is told that the LRS gave up on its batch, that the same file sent again is a new batch, and whom to
    tell, quoting the batch id, if that is not processed either: the service desk, and how to reach it (`desk`).
    Named as `batch_run_email` names it: the AO's id in the subject, its id and name (`ao_name`, if known) in the
    body; the subject also names the batch by the start of its id, so a second abandonment of the same file does not
    read as the first."""
    reference = shown_on_one_line(abandoned.batch_reference or str(abandoned.batch_id))
    ao_id = shown_on_one_line(abandoned.ao_id)
    context = {
        "abandoned": abandoned,
        "ao": _ao_shown(ao_id, ao_name),
        "reference": reference,
        "given_reference": _given_reference(abandoned.batch_reference),
        "link": batch_page_url(public_base_url, abandoned.batch_id),
        "desk": desk,
    }
    which = _which_batch(abandoned.batch_reference, abandoned.batch_id)
    return OutgoingEmail(
        to=to,
        subject=f"LRS could not process your batch, nothing recorded: {ao_id} {reference}{which}",
        text=_templates.get_template("batch_abandoned.txt").render(context),
        html=_templates.get_template("batch_abandoned.html").render(context),
        message_id=message_id_for(event_id, domain),
        date=abandoned.abandoned_at,
        reply_to=desk.email,
    )


def _given_reference(reference: str | None) -> str | None:
    """The batch's BatchReference as its AO gave it, for the body's "Batch reference" row; None when it gave none (the
    row says so: the batch id in its place read as a reference the AO never sent)."""
    return shown_on_one_line(reference) if reference else None


def _ao_shown(ao_id: str, name: str | None) -> str:
    """The AO as a batch's email names it: "RN9093 Pearson Education Ltd", or its id alone when the notifier's
    reference data does not have it."""
    return f"{ao_id} {shown_on_one_line(name)}" if name else ao_id


LATE_AFTER = timedelta(minutes=15)
"""A batch email sent this long after its batch was decided is dated when sent and says it was delayed."""


def _uk_time(moment: datetime) -> str:
    """`14:05 on 6 December 2026 (UK time)`, as the portal's emails say a time."""
    return f"{time_on_day(moment)} (UK time)"


def challenge_raised_email(
    event_id: uuid.UUID,
    raised: ChallengeRaised | ChallengeRaisedV1,
    contact: ChallengeContact,
    occurred_at: datetime,
    *,
    reason: str | None,
    public_base_url: str,
    domain: str = "lrs.local",
    released_at: datetime | None = None,
    contact_refused: bool = False,
    ao_name: str | None = None,
    desk: ServiceDesk = NO_SERVICE_DESK,
) -> OutgoingEmail:
    """Named as `batch_run_email` names the AO: its id in the subject, its id and name (`ao_name`, if known) in the
    body, so a contact for several AO ids knows which AO's portal account answers it. `reason` is the learner's
    words in clear, or None when their personal data was erased: the AO is
    told of the challenge all the same. `released_at`: the notice waited until the AO set a challenge contact
    (decision 0155), then; it says when the challenge was raised and that it may have moved on since, and is
    dated when it was released, so it sorts where it arrives in the contact's mailbox. `contact_refused`: it
    waited because the contact set before refused it (its mailbox gone), not for want of one."""
    # The learner's full ULN stays out of the email: the AO reads it from the challenge page. What the
    # achievement is (qualification, award date, grade) names no learner: the AO recognises its own result by it.
    achievement = _achievement_shown(raised)
    # The ULN the AO recorded the achievement under (decision 0162): the raising learner's may be another, merged
    # with it. An event written before challenges kept it has the raising learner's alone.
    uln = uln_on_record(raised)
    ao_id = shown_on_one_line(raised.ao_id)
    shown_reason = None if reason is None else with_bidi_controls_shown(reason)
    context = {
        "contact": contact,
        "raised": raised,
        "ao": _ao_shown(ao_id, ao_name),
        "achievement": achievement,
        "reason": shown_reason,
        "reason_quoted": None if shown_reason is None else quoted(shown_reason),
        "uln_masked": mask_uln(uln),
        "link": challenge_page_url(public_base_url, raised.challenge_id),
        "held": released_at is not None,
        "contact_refused": contact_refused,
        "raised_on": long_day(occurred_at),
        "desk": desk,
    }
    on = f" on {achievement['qan']}" if achievement else ""
    return OutgoingEmail(
        to=contact.email,
        subject=f"LRS Event Data Challenge raised{on}: {ao_id} {raised.challenge_id}",
        text=_templates.get_template("challenge_raised.txt").render(context),
        html=_templates.get_template("challenge_raised.html").render(context),
        message_id=message_id_for(event_id, domain),
        date=released_at or occurred_at,
        reply_to=desk.email,
    )


def uln_on_record(raised: ChallengeRaised | ChallengeRaisedV1) -> str:
    """The ULN the AO recorded the challenged achievement under (decision 0162), which a challenge's emails show
    masked: the raising learner's may be another, merged with it. An event written before challenges kept it has the
    raising learner's alone."""
    on_record = raised.achievement if isinstance(raised, ChallengeRaised) else None
    return on_record.uln if on_record is not None and on_record.uln is not None else raised.uln


def challenge_withdrawn_email(
    event_id: uuid.UUID,
    withdrawn: ChallengeResolved,
    contact: ChallengeContact,
    occurred_at: datetime,
    *,
    achievement: ChallengedAchievement | None,
    uln_masked: str | None,
    raised_at: datetime | None,
    raise_message_id: str | None,
    public_base_url: str,
    domain: str = "lrs.local",
    ao_name: str | None = None,
    desk: ServiceDesk = NO_SERVICE_DESK,
) -> OutgoingEmail:
    """Tells the AO's challenge contact that the learner withdrew a challenge its raise notice told them of (decision
    0194), so they stop looking into it: no action is needed. Named as that notice named it (`achievement`,
    `uln_masked` and `raised_at` as it said them; each None for a raise handled before the notifier kept them, when
    the challenge and achievement ids alone name it), the AO as `challenge_raised_email` does, and threaded under the
    raise notice (`raise_message_id`). Nothing of the learner but the masked ULN the notice showed: a withdrawal
    carries no note."""
    if withdrawn.resolution is not ChallengeResolution.WITHDRAWN:
        raise ValueError(f"not a withdrawal: {withdrawn.resolution}")
    return _under_the_raise_notice(
        "challenge_withdrawn",
        "withdrawn by the learner",
        event_id,
        withdrawn,
        contact,
        occurred_at,
        RaiseNoticeSaid(achievement, uln_masked, raised_at, raise_message_id),
        {"withdrawn": withdrawn, "withdrawn_on": long_day(occurred_at)},
        public_base_url=public_base_url,
        domain=domain,
        ao_name=ao_name,
        desk=desk,
    )


def challenge_resolved_by_desk_email(
    event_id: uuid.UUID,
    resolved: ChallengeResolved,
    contact: ChallengeContact,
    occurred_at: datetime,
    *,
    note: str | None,
    note_erased: bool = False,
    achievement: ChallengedAchievement | None,
    uln_masked: str | None,
    raised_at: datetime | None,
    raise_message_id: str | None,
    public_base_url: str,
    domain: str = "lrs.local",
    ao_name: str | None = None,
    desk: ServiceDesk = NO_SERVICE_DESK,
) -> OutgoingEmail:
    """Tells the AO's challenge contact that an LRS operator (the service desk) resolved for the AO a challenge its
    raise notice told them of, and as what, so they stop looking into it: no action is needed unless they disagree,
    and then whom to tell (`desk`). Named and threaded as `challenge_withdrawn_email` is. `note`: the note the learner
    was sent, in clear (the AO reads it on the challenge's page too); `note_erased`: there was one, but the learner's
    personal data was erased since, so it is said to be gone. Nothing else of the learner but the masked ULN the raise
    notice showed, and never which operator resolved it."""
    if resolved.resolution is ChallengeResolution.WITHDRAWN:
        raise ValueError("a withdrawal is the learner's: see challenge_withdrawn_email")
    shown_note = None if note is None or not note.strip() else with_bidi_controls_shown(note)
    return _under_the_raise_notice(
        "challenge_resolved_by_desk",
        "resolved by the LRS service desk",
        event_id,
        resolved,
        contact,
        occurred_at,
        RaiseNoticeSaid(achievement, uln_masked, raised_at, raise_message_id),
        {
            "resolved": resolved,
            "resolved_on": long_day(occurred_at),
            "note": shown_note,
            "note_quoted": None if shown_note is None else quoted(shown_note),
            "note_erased": note_erased and shown_note is None,
        },
        public_base_url=public_base_url,
        domain=domain,
        ao_name=ao_name,
        desk=desk,
    )


@dataclass(frozen=True)
class RaiseNoticeSaid:
    """What the raise notice said of its challenge, for a notice threaded under it: the achievement, the masked ULN
    and the day raised (each None for a raise handled before the notifier kept them) and its Message-ID."""

    achievement: ChallengedAchievement | None
    uln_masked: str | None
    raised_at: datetime | None
    message_id: str | None


def _under_the_raise_notice(
    template: str,
    what_happened: str,
    event_id: uuid.UUID,
    resolved: ChallengeResolved,
    contact: ChallengeContact,
    occurred_at: datetime,
    raise_notice: RaiseNoticeSaid,
    told: dict[str, object],
    *,
    public_base_url: str,
    domain: str,
    ao_name: str | None,
    desk: ServiceDesk,
) -> OutgoingEmail:
    """A notice to the AO's challenge contact of how a challenge ended, named as its raise notice named it and threaded
    under it (`In-Reply-To`); `told`: what the template says of the ending."""
    shown = achievement_shown(raise_notice.achievement)
    ao_id = shown_on_one_line(resolved.ao_id)
    context = {
        "contact": contact,
        "ao": _ao_shown(ao_id, ao_name),
        "achievement": shown,
        "uln_masked": raise_notice.uln_masked,
        "raised_on": long_day(raise_notice.raised_at) if raise_notice.raised_at is not None else None,
        "resolution": RESOLUTION_LABELS[resolved.resolution],
        "link": challenge_page_url(public_base_url, resolved.challenge_id),
        "desk": desk,
        **told,
    }
    on = f" on {shown['qan']}" if shown else ""
    return OutgoingEmail(
        to=contact.email,
        subject=f"LRS Event Data Challenge {what_happened}{on}: {ao_id} {resolved.challenge_id}",
        text=_templates.get_template(f"{template}.txt").render(context),
        html=_templates.get_template(f"{template}.html").render(context),
        message_id=message_id_for(event_id, domain),
        date=occurred_at,
        reply_to=desk.email,
        in_reply_to=raise_notice.message_id,
    )


def quoted(words: str) -> str:
    """A learner's words for a plain-text email: every line begun with "> ", as a reply quotes, so no line of theirs
    reads as the LRS's own (a link, "sign in at …"). Every line break Python knows ends a line (a U+2028 a mail
    client shows as one would otherwise start an unquoted line)."""
    return "\n".join(f"> {line}".rstrip() for line in words.splitlines() or [""])


# As the PLR's `Status` reads to people (DOMAIN.md §3: F = Final, P = Provisional).
_STATUS_WORDS = {ResultStatus.PROVISIONAL: "Provisional", ResultStatus.FINAL: "Final"}


def _achievement_shown(raised: ChallengeRaised | ChallengeRaisedV1) -> dict[str, str | None] | None:
    return achievement_shown(getattr(raised, "achievement", None))


def achievement_shown(achievement: ChallengedAchievement | None) -> dict[str, str | None] | None:
    """The challenged achievement as a person knows it: QAN as written, title, award date, grade, whether the
    result was Provisional or Final, and its pathway, centre UKPRN, language for assessment and credits when the
    challenge was raised (each None in an event written before challenges kept it); None for an event written before challenges carried any of it (the email names the achievement by
    its id alone)."""
    if achievement is None:
        return None
    awarded = achievement.award_date
    return {
        "qan": shown_on_one_line(display_qan(achievement.qualification_number)),
        "title": with_bidi_controls_shown(achievement.title) if achievement.title else None,
        "award_date": f"{awarded.day} {awarded:%B %Y}",
        "grade": with_bidi_controls_shown(achievement.grade) if achievement.grade else None,
        "status": _STATUS_WORDS[achievement.status] if achievement.status else None,
        # the rest of its data when raised (None in an event written before challenges carried it, or where the
        # achievement had none): the AO's own words, shown as they are
        "pathway": _shown_text(achievement.pathway),
        "ukprn": _shown_text(achievement.ukprn),
        "language_for_assessment": _shown_text(achievement.language_for_assessment),
        "credits": str(achievement.credits) if achievement.credits is not None else None,
    }


def _shown_text(text: str | None) -> str | None:
    return shown_on_one_line(text) if text else None


def contact_changed_email(
    notice_id: uuid.UUID,
    *,
    ao_id: str,
    old_email: str,
    old_name: str,
    changed_by: str,
    changed_at: datetime,
    public_base_url: str,
    domain: str = "lrs.local",
    desk: ServiceDesk = NO_SERVICE_DESK,
) -> OutgoingEmail:
    """Told to the address a challenge contact left: when, by what kind of caller (never the new address, nor an
    operator's name), and how to set it back. Someone else's key could otherwise send learners' challenges
    elsewhere unseen."""
    context = {
        "name": shown_on_one_line(old_name),
        "ao_id": shown_on_one_line(ao_id),
        "old_email": old_email,
        "when": _uk_time(changed_at),
        "who": "an LRS operator" if changed_by.startswith("operator:") else "your organisation's key or portal account",
        "contact_page": f"{public_base_url.rstrip('/')}/contact",
        "desk": desk,
    }
    return OutgoingEmail(
        to=old_email,
        subject=f"LRS challenge contact changed: {ao_id}",
        text=_templates.get_template("contact_changed.txt").render(context),
        html=_templates.get_template("contact_changed.html").render(context),
        message_id=message_id_for(notice_id, domain),
        date=changed_at,
        reply_to=desk.email,
    )


def to_mime(email: OutgoingEmail, mail_from: str) -> EmailMessage:
    """Raises ValueError for a header value holding CR or LF, or an address that is not the one plain address it
    was given: such an event is poison, parked, never sent."""
    message = new_email()
    message["From"] = mail_from
    message["To"] = email.to
    if str(message["To"]) != email.to:  # an encoded word (`=?utf-8?q?…?=`) decoded into another address
        raise ValueError("the recipient's address is not one plain address")
    message["Subject"] = without_encoded_words(email.subject)
    message["Message-ID"] = email.message_id
    if email.in_reply_to is not None:  # RFC 5322 §3.6.4: a one-email thread, so References is its parent alone
        message["In-Reply-To"] = email.in_reply_to
        message["References"] = email.in_reply_to
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: an out-of-office reply is not sent back to it
    if email.reply_to is not None:  # the service desk: a person's reply reaches someone who reads it
        message["Reply-To"] = email.reply_to
    message["Date"] = format_datetime(email.date)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    # A boundary of the Message-ID, not a random one: the same event gives the same bytes.
    message.set_boundary("=_" + hashlib.sha256(email.message_id.encode()).hexdigest()[:32])
    return message


def without_encoded_words(text: str) -> str:
    """`text` to be shown as it is in a header: Python's email package decodes RFC 2047 encoded words
    (`=?utf-8?q?…?=`) in a value it is given and writes what they decode to as it is, line breaks included
    (CVE-2024-6923), so a batch reference holding one could add headers of its own (a Reply-To, a Bcc). Each `=?`
    is written `= ?`, which starts none."""
    return text.replace("=?", "= ?")


def _batch_title(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return BATCH_CODE_TITLES[BatchCode(code)]
    except ValueError:
        return None
