"""The answers of the operators' admin API on the projection (`admin_routes`) and on its credential keys
(`credential_routes`), as the portal, `lrs projector` and `lrs credential-keys` read them. Each mirrors the dict its
builder makes, key for key and in its order: the routes answer through these models (`response_model`), so the
OpenAPI document names every field and an answer that loses one fails."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lrs_platform.parking_api import DeadLetterActionView as ServicesDeadLetterActionView


class TopicLag(BaseModel):
    events: int = Field(description="records behind the log's last stable offset")
    seconds: float = Field(description="how old the oldest of them is, at most")


class EndedRebuildView(BaseModel):
    """The last rebuild switched to or abandoned (`EndedRebuild.said`)."""

    rebuild_id: int
    state: str = Field(description="`switched` or `abandoned`")
    finished_by: str | None = Field(description="who; none: ended by a release that did not record it")
    finished_at: datetime | None = Field(description="when")


class RebuildIdle(BaseModel):
    """No rebuild: `last` says who switched to or abandoned the last one, if any did."""

    model_config = ConfigDict(extra="forbid")  # a rebuild's status is never read as this one

    state: Literal["idle"]
    last: EndedRebuildView | None = Field(default=None, description="left out when no rebuild has ended")


class RebuildWorkerView(BaseModel):
    worker: int
    state: str = Field(description="`pending`, `running`, `done` or `failed`")
    passes: str = Field(description="passes done of those planned: `2/5`")
    events_read: int
    cpu_seconds: float
    error: str | None


class RebuildCounts(BaseModel):
    live: dict[str, int] = Field(description="rows per table of the live model")
    rebuilt: dict[str, int] = Field(description="rows per table of the rebuilt model")


class RebuildComparison(BaseModel):
    """The rebuilt model compared with the live one (`store.compare_models`), and when."""

    identical: bool = Field(description="same counts, learners' checksums and global checksums")
    counts: RebuildCounts
    learners_compared: int
    learners_differing: int
    differing_ulns_masked: list[str] = Field(description="the first 20 differing learners' ULNs, masked")
    global_checksums_differing: list[str] = Field(description="the global checksums that differ, by name")
    compared_at: datetime


class RebuildUnderWay(BaseModel):
    """A rebuild that has not been switched to or abandoned: running, caught up, or failed (`Rebuilds.status`)."""

    state: str = Field(description="`running`, `caught_up` or `failed`")
    phase: str = Field(description="`loading`, `indexing`, then `following`")
    rebuild_id: int
    schema_: str = Field(alias="schema", description="the schema it builds: `plr_rebuild_<rebuild_id>`")
    started_by: str
    started_at: datetime
    target_events: int = Field(description="the events on the log when it started")
    projected_events: int = Field(description="of those, the events loaded or projected")
    progress: float = Field(description="projected of target, 0 to 1")
    events_per_second: float
    eta_seconds: float | None = Field(description="none: failed, building indexes, or no rate yet")
    events_past_target: int = Field(description="events it followed past the target")
    workers: list[RebuildWorkerView] = Field(description="the bulk load's worker processes; none: no bulk load")
    last_error: str | None
    comparison: RebuildComparison | None = Field(description="the last comparison with the live model, if any")


RebuildStatus = RebuildUnderWay | RebuildIdle


class RebuildSwitched(BaseModel):
    state: Literal["switched"]
    rebuild_id: int
    live_schema: str
    retired_schema: str = Field(description="the model that was live, kept until an operator drops it")


class RebuildAbandoned(BaseModel):
    state: Literal["abandoned"]
    rebuild_id: int


class ProjectorStatus(BaseModel):
    offsets: dict[str, int] = Field(description="the live projection's next offset, by `<topic>:<partition>`")
    lag: dict[str, TopicLag] = Field(description="by topic")
    events_handled: int = Field(
        description="events this projector process has handled since it started (applied, skipped, recognised as"
        " copies or parked): 0 after a restart, however much is projected; `offsets` and `lag` say how far it is"
    )
    batches: int = Field(description="the transactions those events were handled in, since this process started")
    last_error: str | None = Field(description="the last error of a transaction this process rolled back, if any")
    dead_letters: dict[str, int] = Field(description="parked events by reason: `error` and `blocked`")
    rebuild: RebuildStatus


class ReplayOutcome(BaseModel):
    """A finished replay's learners, events and seconds; a failed one's error. Only the keys it has are sent."""

    learners: int | None = None
    events: int | None = None
    seconds: float | None = None
    past_end: dict[str, int] | None = Field(
        default=None,
        description="only when nothing was replayed because `from` is at or past the end of every partition of the PLR"
        " log as projected (an offset too large, a time still to come): each partition's end, the next offset the"
        " projector projects",
    )
    error: str | None = None


class ReplayIdle(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a replay's status is never read as this one

    state: Literal["idle"]


class ReplayView(BaseModel):
    replay_id: int
    from_: str = Field(alias="from", description="the offset or time it was asked to replay from, as given")
    requested_by: str
    state: str = Field(description="`running`, `finished` or `failed`")
    result: ReplayOutcome | None = Field(description="none while running")
    started_at: datetime
    finished_at: datetime | None


ReplayStatus = ReplayView | ReplayIdle


class ParkedEventView(BaseModel):
    """A parked event of the projection (`dead_letters.parked_view`): never its value."""

    topic: str
    partition: int
    offset: int
    learner: str = Field(description="its stream key: a ULN (or an achievement id)")
    reason: str = Field(description="`error`: the poison; `blocked`: held behind an earlier one of its learner")
    error: str | None
    event_id: str | None
    event_type: str | None
    batch_id: str | None = Field(
        default=None,
        description="the batch whose event it is (a PLR batch's event; none for any other, or one parked before"
        " the projector kept it)",
    )
    attempts: int
    parked_at: datetime | None = Field(description="when it was first parked")
    last_tried_at: datetime | None = Field(description="when a retry last left it parked")


class ParkedEvents(BaseModel):
    parked: list[ParkedEventView]
    total: int = Field(description="every parked event the filters match, however many are listed")


class DrainResult(BaseModel):
    """What a retry or skip did to one topic's parked events of the learner."""

    topic: str
    learner: str
    applied: int
    duplicates: int = Field(description="events found applied already, and left as they were")
    skipped: int
    still_parked: int
    error: str | None = Field(description="why the first still parked failed, if any is")


class DrainResults(BaseModel):
    results: list[DrainResult]


class CredentialKeyView(BaseModel):
    """A credential signing key as `credential_routes._key_listed` says it: never its private half."""

    key_id: str = Field(description="e.g. 20260301-0a1b2c3d")
    kid: str = Field(description="the key's `kid` in the JWKS, as a credential it signed names it")
    active: bool = Field(description="signs new credentials: not retired")
    published: bool = Field(description="in the JWKS, so what it signed verifies: not withdrawn")
    created_at: datetime
    created_by: str
    retired_at: datetime | None = Field(description="when it stopped signing; none: the active key")
    withdrawn_at: datetime | None = Field(description="when it left the JWKS; none: published")
    withdrawn_by: str | None
    withdrawal_reason: str | None = Field(description="the operator's words, as given")


class CredentialKeyListing(BaseModel):
    keys: list[CredentialKeyView] = Field(description="every key ever made: the active one first, then newest first")


class CredentialKeyRotated(BaseModel):
    key_id: str = Field(description="the new key, which signs from now on")
    kid: str
    retired: list[str] = Field(description="the key ids retired, in the JWKS still; empty when no key was active")


class CredentialKeyWithdrawn(BaseModel):
    withdrawn: CredentialKeyView
    replaced_by: str | None = Field(
        description="the new key that signs from now on; none: the key withdrawn was not active, or nothing signs"
        " (no key-encryption key is set)"
    )


# Named as the services' models (`lrs_platform.parking_api`), which this answer used before it named the batch: the
# same schemas in the OpenAPI document with one field more, optional there so that the document stays compatible (the
# answer always has it).
class DeadLetterActionView(ServicesDeadLetterActionView):
    """A retry or skip of a parked PLR event (`ProjectorDeadLetterAction.view`)."""

    batch_id: str | None = Field(
        default=None,
        description="the batch whose event it was (its provenance); a skipped one was accepted in that batch but never"
        " reached the learner's record. null for an event of no batch, and for an action recorded before it was kept",
    )


class DeadLetterActions(BaseModel):
    actions: list[DeadLetterActionView] = Field(description="newest first")
