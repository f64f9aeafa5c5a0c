"""The services, over their HTTP APIs only: the portal is a backend-for-frontend and imports no service.

Every call carries the signed-in person's own service key, so each service applies its own rules to
them (an AO user reaching another AO's batch gets the service's 404, whatever the portal shows).
Failures become small named errors here; pages turn them into what a person reads.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from lrs_contracts.codes import MAX_BATCH_BYTES, ProblemCode
from lrs_contracts.environments import Environment
from lrs_platform.http import CURRENT_REQUEST_ID
from portal.config import PortalSettings


class ServiceError(Exception):
    """A service said no; `detail` is its own explanation (problem+json `detail` or `title`)."""

    def __init__(self, detail: str, problem: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problem: Mapping[str, Any] = problem or {}


class NotFound(ServiceError):
    """Unknown, or not this person's to see: the services answer both alike, so does the portal."""


class Forbidden(ServiceError):
    pass


class Refused(ServiceError):
    """The request was understood and refused (a batch refused with an RS code, a conflict)."""


class Busy(Refused):
    """The service asks the caller to wait (429: too many downloads at once, too many batches waiting);
    `retry_after`, its Retry-After in seconds when it gave one."""

    def __init__(self, detail: str, problem: Mapping[str, Any] | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail, problem)
        self.retry_after = retry_after


class KeyRejected(ServiceError):
    """The session's service key is revoked or unknown: the person must sign in again."""


class Unavailable(ServiceError):
    """The service did not answer, or failed; `environment`, whose service it is: a Sandpit service away is the
    Sandpit's outage, not live's, and is logged and shown so (report-sandpit finding 4)."""

    def __init__(
        self, detail: str, problem: Mapping[str, Any] | None = None, environment: Environment = Environment.LIVE
    ) -> None:
        super().__init__(detail, problem)
        self.environment = environment


@dataclass(frozen=True)
class BatchOnThePlr:
    """What the projector says of a batch's events (`batch_on_the_plr`): `projected`, whether it has taken the batch
    onto learners' records (False while it answers PROJECTION_PENDING); `held`, how many of the batch's events it
    holds in its dead letters meanwhile (a poison on a learner's stream, or held behind one), which are not on
    learners' records until an operator resolves them."""

    projected: bool
    held: int = 0


@dataclass(frozen=True)
class Download:
    """A file a service is sending, open: `chunks`, its body as it arrives, read only as fast as the browser takes it
    (the portal holds a chunk at a time, not the file); `close` lets the service's connection go (and the portal's
    place for it, `DOWNLOADS`), however the sending ended: whoever takes a Download closes it."""

    chunks: AsyncIterator[bytes]
    media_type: str
    filename: str | None
    close: Callable[[], Awaitable[None]]


class _Places:
    """At most `most` of something at once in this process (no waiting: `take` says there is no place)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.held = 0

    def take(self) -> bool:
        if self.held >= self.most:
            return False
        self.held += 1
        return True

    def give_back(self) -> None:
        self.held -= 1


# The results downloads the portal sends at once, every person's, live's and the Sandpit's. A download holds one of the
# connections of the services' client (one pool of httpx's 100 for every page's calls) for as long as the browser takes
# to read it, minutes over a poor link: past this many, the pages' own calls would wait for a connection, so one more
# is answered as ingest answers one more than its per-AO 3: wait, and download it again.
DOWNLOADS = _Places(40)
DOWNLOADS_RETRY_AFTER_SECONDS = 5


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _request_id() -> dict[str, str]:
    """The page's request id, sent on: the service's log lines for the call carry the portal's id."""
    request_id = CURRENT_REQUEST_ID.get()
    return {"X-Request-Id": request_id} if request_id else {}


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    problem = _problem(response)
    detail = str(problem.get("detail") or problem.get("title") or f"the service answered {response.status_code}")
    status = response.status_code
    if status == 401:
        raise KeyRejected(detail, problem)
    if status == 403:
        raise Forbidden(detail, problem)
    if status == 404:
        raise NotFound(detail, problem)
    if status >= 500:
        raise Unavailable(detail, problem)
    if status == 429:
        retry_after = response.headers.get("Retry-After", "")
        raise Busy(detail, problem, int(retry_after) if retry_after.isdigit() else None)
    raise Refused(detail, problem)


# The last line a record can be on: a batch is at most MAX_BATCH_BYTES bytes, and a line takes one of them at least (its
# line break). A line past it names no record, and is not asked of ingest, whose pages of a batch's records end long
# before the page such a line would be looked for on.
LAST_RECORD_LINE = MAX_BATCH_BYTES + 1

# How long a batch's submit waits for ingest when the page does not say (PORTAL_SUBMIT_TIMEOUT_SECONDS' default).
SUBMIT_TIMEOUT_SECONDS: float = PortalSettings.model_fields["submit_timeout_seconds"].default

# A well-formed ULN with a right check digit, not the temporary one: the projector reads it for `batch_on_the_plr`,
# whose answer turns on the batch alone (whatever it holds of this ULN is dropped unread).
BATCH_PROBE_ULN = "9999999998"

# The title of a dead-letter value route's 404 for a parked message kept without a value, which its code
# PARKED_VALUE_NOT_KEPT says: matched too for one release, as a service older than that code (met during a rolling
# upgrade) answers only the title.
NO_VALUE_KEPT = "No value kept"


class Services:
    """One pooled HTTP client for the services of one environment; `as_principal` binds it to one person's key."""

    def __init__(
        self, urls: Mapping[str, str], client: httpx.AsyncClient, environment: Environment = Environment.LIVE
    ) -> None:
        self._client = client
        self._urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.environment = environment

    @staticmethod
    def live(settings: PortalSettings, client: httpx.AsyncClient) -> Services:
        urls = {
            "ingest": settings.ingest_url,
            "plr-projector": settings.plr_projector_url,
            **({"plr-reader": settings.plr_reader_url} if settings.plr_reader_url else {}),
            "challenges": settings.challenges_url,
            "notifier": settings.notifier_url,
            "reporting": settings.reporting_url,
            "validation": settings.validation_url,
        }
        return Services(urls, client)

    @staticmethod
    def sandpit(settings: PortalSettings, client: httpx.AsyncClient) -> Services:
        """The Sandpit's batches and PLR views (decision 0060); it has no challenges and no MI."""
        assert settings.sandpit_ingest_url and settings.sandpit_plr_projector_url
        return Services(
            {"ingest": settings.sandpit_ingest_url, "plr-projector": settings.sandpit_plr_projector_url},
            client,
            Environment.SANDPIT,
        )

    def as_principal(self, service_key: str) -> ServiceCalls:
        return ServiceCalls(self._client, self._urls, service_key, self.environment)

    async def ready(self, *only: str) -> dict[str, dict[str, Any]]:
        """Each service's `/readyz` (of `only` these, if named): `ready`, and its `checks` as it said them ("ok", or
        "ok: retrying for 24s: …": a service can be ready while no email goes), none when it did not answer (`error`:
        how). The status alone said "ready" all through a relay outage (the incident walk, finding 1)."""
        answers: dict[str, dict[str, Any]] = {}
        for name, url in self._urls.items():
            if only and name not in only:
                continue
            try:
                response = await self._client.get(f"{url}/readyz", timeout=3.0)
            except httpx.HTTPError as error:
                answers[name] = {"ready": False, "checks": {}, "error": type(error).__name__}
                continue
            try:
                checks = response.json().get("checks")
            except (ValueError, AttributeError):
                checks = None
            said = {str(check): str(text) for check, text in checks.items()} if isinstance(checks, dict) else {}
            answers[name] = {"ready": response.status_code == 200, "checks": said, "error": None}
        return answers


class ServiceCalls:
    def __init__(
        self,
        client: httpx.AsyncClient,
        urls: Mapping[str, str],
        service_key: str,
        environment: Environment = Environment.LIVE,
    ) -> None:
        self._client = client
        self._urls = urls
        self._environment = environment
        self._headers = {"Authorization": f"Bearer {service_key}"}
        # learners' records are read from the PLR's readers where the environment has them, so a page's reads never
        # compete with the projection of every AO's results (the projector's own process: its operator actions)
        self._plr_reads = "plr-reader" if "plr-reader" in urls else "plr-projector"

    def _service_named(self, service: str) -> str:
        """`The ingest service`, or in the Sandpit `The Sandpit's ingest service`: whose service it is, as a log line
        or a problem says it (live's words are as they were)."""
        return f"The Sandpit's {service} service" if self._environment.is_sandpit else f"The {service} service"

    def _unavailable(self, detail: str, problem: Mapping[str, Any] | None = None) -> Unavailable:
        return Unavailable(detail, problem, self._environment)

    async def _request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """`timeout`: seconds for a call a page can do without (the client's own otherwise)."""
        clean_params = {key: value for key, value in (params or {}).items() if value is not None}
        if service not in self._urls:
            raise self._unavailable(f"{self._service_named(service)} is not part of this environment.")
        try:
            response = await self._client.request(
                method,
                f"{self._urls[service]}{path}",
                params=clean_params,
                json=json,
                content=content,
                headers={**self._headers, **_request_id(), **(headers or {})},
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as error:
            raise self._unavailable(
                f"{self._service_named(service)} did not answer ({type(error).__name__})."
            ) from error
        try:
            _raise_for(response)
        except Unavailable as failed:  # the service's own words, said to be of this environment's service
            failed.environment = self._environment
            raise
        return response

    async def _json(self, method: str, service: str, path: str, **options: Any) -> Any:
        return (await self._request(method, service, path, **options)).json()

    async def _download(self, service: str, path: str) -> Download:
        """The service's file, open once it answered 200 and before any of its body is read: it is then read as it is
        sent on (`Download`). Any other answer is said as `_request` says it (a 404, 409 BATCH_NOT_DECIDED, a 429
        with its Retry-After), its few bytes read and its connection let go, before the page answers anything."""
        if service not in self._urls:
            raise self._unavailable(f"{self._service_named(service)} is not part of this environment.")
        if not DOWNLOADS.take():
            raise Busy(
                f"{DOWNLOADS.most:,} downloads of batch results are being sent at the moment, as many as the portal"
                f" sends at once: download this one again in {DOWNLOADS_RETRY_AFTER_SECONDS} seconds.",
                retry_after=DOWNLOADS_RETRY_AFTER_SECONDS,
            )
        try:
            request = self._client.build_request(
                "GET", f"{self._urls[service]}{path}", headers={**self._headers, **_request_id()}
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as error:
                raise self._unavailable(
                    f"{self._service_named(service)} did not answer ({type(error).__name__})."
                ) from error
            try:
                if response.status_code != 200:
                    await self._answered_otherwise(service, response)
            except BaseException:
                await response.aclose()
                raise
        except BaseException:
            DOWNLOADS.give_back()
            raise
        disposition = response.headers.get("content-disposition", "")
        filename = disposition.split("filename=", 1)[1].strip('"') if "filename=" in disposition else None

        places = [DOWNLOADS]  # its place, given back once however often it is closed

        async def close() -> None:
            try:
                await response.aclose()
            finally:
                while places:
                    places.pop().give_back()

        return Download(response.aiter_bytes(), response.headers.get("content-type", "text/csv"), filename, close)

    async def _answered_otherwise(self, service: str, response: httpx.Response) -> None:
        """A download's answer other than 200, raised as the error it is."""
        try:
            await response.aread()
        except httpx.HTTPError as error:
            raise self._unavailable(
                f"{self._service_named(service)} did not answer ({type(error).__name__})."
            ) from error
        try:
            _raise_for(response)
        except Unavailable as failed:
            failed.environment = self._environment
            raise
        raise self._unavailable(f"{self._service_named(service)} answered {response.status_code}, not its file.")

    # --- batches (ingest) ------------------------------------------------------------------------

    async def submit_batch(
        self, content: bytes, content_type: str, idempotency_key: str | None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Ingest's answer, with `replayed`: True when it answered with an earlier batch (the same key, or
        without one the same file) rather than making a new one. `timeout`: seconds to wait for it
        (PORTAL_SUBMIT_TIMEOUT_SECONDS; its default when not given), longer than ingest waits for Kafka
        (INGEST_PUBLISH_TIMEOUT_SECONDS), so that a Kafka away is said by ingest's 503, which names the batch: with
        the client's 30 s the portal gave up first, and its log blamed ingest (the incident walk, finding 5)."""
        headers = {"Content-Type": content_type}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        waited = SUBMIT_TIMEOUT_SECONDS if timeout is None else timeout
        try:
            response = await self._request(
                "POST", "ingest", "/v1/batches", content=content, headers=headers, timeout=waited
            )
        except Unavailable as error:
            if isinstance(error.__cause__, httpx.TimeoutException):
                raise self._unavailable(
                    f"{self._service_named('ingest')} did not answer within {waited:g} s"
                    f" ({type(error.__cause__).__name__})."
                ) from error.__cause__
            raise
        result: dict[str, Any] = response.json()
        return {**result, "replayed": response.headers.get("Idempotent-Replay") == "true"}

    async def batches(
        self, page: int = 1, page_size: int = 20, ao_id: str | None = None, **filters: str
    ) -> dict[str, Any]:
        """A page of batches, newest first: the person's AO's; an operator's (support duty), `ao_id`'s or every AO's;
        `filters` as ingest's `GET /v1/batches` takes them (`status`, `received_from`, `received_to`, `id_prefix`)."""
        params = {"page": page, "page_size": page_size, "ao_id": ao_id, **filters}
        result: dict[str, Any] = await self._json("GET", "ingest", "/v1/batches", params=params)
        return result

    async def maintenance(self) -> dict[str, Any]:
        """The maintenance schedule: what holds now and the windows to come (decision 0070)."""
        result: dict[str, Any] = await self._json("GET", "ingest", "/v1/maintenance")
        return result

    async def batch(self, batch_id: uuid.UUID, wait_until_decided: float | None = None) -> dict[str, Any]:
        params = {"wait_until_decided": wait_until_decided}
        result: dict[str, Any] = await self._json("GET", "ingest", f"/v1/batches/{batch_id}", params=params)
        return result

    async def batch_records(
        self, batch_id: uuid.UUID, page: int, page_size: int, status: str | None = None, code: str | None = None
    ) -> dict[str, Any]:
        """A page of the batch's records (of `status`, with a finding of `code`, if given) and, as `codes`, the codes
        of all its records' findings (not said by an ingest from before them)."""
        params = {"page": page, "page_size": page_size, "status": status, "code": code}
        result: dict[str, Any] = await self._json("GET", "ingest", f"/v1/batches/{batch_id}/records", params=params)
        return result

    async def all_batch_records(self, batch_id: uuid.UUID, status: str | None = None) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = await self.batch_records(batch_id, page, 1_000, status)
            records.extend(answer["records"])
            if len(records) >= answer["total"] or not answer["records"]:
                return records
            page += 1

    async def batch_record(self, batch_id: uuid.UUID, line: int, *, first_line: int) -> dict[str, Any] | None:
        """The record on `line`: first looked for on the page it is on when every record takes one line from
        `first_line` on (ingest lists them in line order), then in the whole batch. None when there is none."""
        if not 1 <= line <= LAST_RECORD_LINE:
            return None
        guess = max(0, line - first_line) // 1_000 + 1
        found = await self.batch_records(batch_id, guess, 1_000)
        record = next((r for r in found["records"] if r["line"] == line), None)
        if record is not None or found["total"] == 0:
            return record
        return next((r for r in await self.all_batch_records(batch_id) if r["line"] == line), None)

    async def batch_records_csv(self, batch_id: uuid.UUID) -> Download:
        """The batch's results CSV, open (`Download`): its taker closes it."""
        return await self._download("ingest", f"/v1/batches/{batch_id}/records.csv")

    # --- the Sandpit (its ingest) ----------------------------------------------------------------

    async def reset_sandpit(self) -> dict[str, Any]:
        """Empties the person's AO's Sandpit: answered at once, `completed` once every service applied it."""
        result: dict[str, Any] = await self._json("POST", "ingest", "/v1/sandpit/reset")
        return result

    async def sandpit_reset(self, reset_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "ingest", f"/v1/sandpit/resets/{reset_id}")
        return result

    # --- maintenance windows and pauses (ingest, operators) --------------------------------------

    async def maintenance_history(self, limit: int) -> dict[str, Any]:
        """The latest `limit` windows (latest start first) and `limit` pauses (newest first), with who set,
        cancelled or resumed each and when."""
        history: dict[str, Any] = await self._json("GET", "ingest", "/v1/admin/maintenance", params={"limit": limit})
        return history

    async def schedule_maintenance_window(self, starts_at: datetime, ends_at: datetime, reason: str) -> dict[str, Any]:
        """The window scheduled (`window`), and `published`: False while Kafka has not taken the new schedule."""
        body = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "reason": reason}
        changed: dict[str, Any] = await self._json("POST", "ingest", "/v1/admin/maintenance/windows", json=body)
        return changed

    async def cancel_maintenance_window(self, window_id: uuid.UUID) -> dict[str, Any]:
        """A window not begun is dropped; one under way ends now."""
        changed: dict[str, Any] = await self._json("DELETE", "ingest", f"/v1/admin/maintenance/windows/{window_id}")
        return changed

    async def pause_deciding_batches(self, reason: str) -> dict[str, Any]:
        """An unplanned pause, from now until resumed: batches are still accepted, and queued."""
        changed: dict[str, Any] = await self._json(
            "POST", "ingest", "/v1/admin/maintenance/pause", json={"reason": reason}
        )
        return changed

    async def resume_deciding_batches(self) -> dict[str, Any]:
        changed: dict[str, Any] = await self._json("POST", "ingest", "/v1/admin/maintenance/resume")
        return changed

    # --- the PLR (plr-projector) -----------------------------------------------------------------

    async def operator_plr(self, uln: str) -> dict[str, Any]:
        """The learner's PLR as the projector gives it to an operator (support duty): withdrawn achievements and
        every version too, the providers' records, the sharing choice and how many of the learner's events are held
        in dead letters (as `lrs plr show ULN --withdrawn --history` reads it)."""
        params = {"include_withdrawn": "true", "include_history": "true"}
        document: dict[str, Any] = await self._json("GET", self._plr_reads, f"/v1/learners/{uln}/plr", params=params)
        return document

    async def ao_achievements(
        self, uln: str, after_batch: uuid.UUID | None = None, *, wait_ms: int | None = None
    ) -> dict[str, Any]:
        """The AO's achievements of the learner; with `after_batch`, once the projector has the batch (it waits up
        to `wait_ms`, its own bound without), else Unavailable with code PROJECTION_PENDING."""
        params = {"uln": uln, "include_withdrawn": "true", "include_history": "true"}
        if after_batch is not None:
            params["after_batch"] = str(after_batch)
            if wait_ms is not None:
                params["wait_ms"] = str(wait_ms)
        result: dict[str, Any] = await self._json("GET", self._plr_reads, "/v1/ao/achievements", params=params)
        return result

    async def batch_on_the_plr(
        self, batch_id: uuid.UUID, *, wait_ms: int, ao_id: str | None = None
    ) -> BatchOnThePlr | None:
        """Whether the projector has taken the batch onto learners' records: projected once it projected an event of
        the batch and then read the PLR log to its end as of that moment (every event of the batch, one Kafka
        transaction), with how many of the batch's events it holds in dead letters (`batch_events_held`, the whole
        batch's for an AO's or an operator's key); not while it answers PROJECTION_PENDING after waiting up to
        `wait_ms`; None when it could not be asked. For an AO's key (an operator's naming the batch's AO, `ao_id`)
        the projector judges `after_batch` by the batch's events on any learner's record (decision 0012), so the
        read is of a ULN of no consequence (`BATCH_PROBE_ULN`): the portal knows no learner of a batch, whose
        records ingest shows with masked ULNs only."""
        params = {
            "uln": BATCH_PROBE_ULN,
            "ao_id": ao_id,
            "include_withdrawn": "false",
            "include_history": "false",
            "after_batch": str(batch_id),
            "wait_ms": str(wait_ms),
        }
        try:
            response = await self._request(
                "GET", self._plr_reads, "/v1/ao/achievements", params=params, timeout=wait_ms / 1000 + 5
            )
            consistency = response.json().get("consistency") or {}
        except Unavailable as unavailable:
            pending = unavailable.problem.get("code") == ProblemCode.PROJECTION_PENDING
            return BatchOnThePlr(projected=False) if pending else None
        except (ServiceError, ValueError, AttributeError):  # refused, or an answer that is not the document
            return None
        held = consistency.get("batch_events_held") if isinstance(consistency, dict) else None
        # a projector from before the count says nothing of what it holds: as before, the batch is on the records
        return BatchOnThePlr(projected=True, held=held if isinstance(held, int) and held > 0 else 0)

    async def projector_status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "plr-projector", "/v1/admin/projector")
        return result

    async def dead_letters(self, service: str, *, timeout: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", service, "/v1/admin/dlq", timeout=timeout)
        return result

    async def dead_letter_actions(self, service: str, limit: int) -> list[dict[str, Any]]:
        """The retries and skips operators made of the service's parked messages, newest first."""
        found: dict[str, Any] = await self._json("GET", service, "/v1/admin/dlq/actions", params={"limit": str(limit)})
        actions: list[dict[str, Any]] = found["actions"]
        return actions

    async def dead_letter_stream(self, service: str, handle: str) -> list[dict[str, Any]]:
        """Every message parked in the stream `handle` names (a learner in the projector, a parked message's id
        elsewhere), the poison first: what a retry or skip of it acts on."""
        if service == "plr-projector":
            params = {"learner": handle, "limit": "10000"}
            found: dict[str, Any] = await self._json("GET", service, "/v1/admin/dlq", params=params)
        else:
            found = await self._json("GET", service, f"/v1/admin/dlq/{quote(handle, safe='')}")
        rows: list[dict[str, Any]] = found["parked"]
        return rows

    async def dead_letter_value(self, service: str, stream: str, topic: str | None = None) -> bytes | None:
        """A parked message's value, byte for byte as its consumer read it (what `lrs dlq show` saves to mend): of
        the message `stream` names (a parked message's id), or in the projector of learner `stream`'s first event
        parked on `topic`; None when the service keeps no value for it (a tombstone). The services answer it to
        the support duty only. It may hold personal data: never logged nor kept."""
        try:
            response = await self._request(
                "GET", service, f"/v1/admin/dlq/{quote(stream, safe='')}/value", params={"topic": topic}
            )
        except NotFound as missing:
            problem = missing.problem
            if problem.get("code") == ProblemCode.PARKED_VALUE_NOT_KEPT or problem.get("title") == NO_VALUE_KEPT:
                return None
            raise
        return response.content

    async def dead_letter_action(
        self,
        service: str,
        stream: str,
        action: str,
        reason: str | None,
        *,
        replacement: dict[str, Any] | None = None,
        topic: str | None = None,
        heads: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A retry or skip of `stream`; a retry with `replacement` applies that corrected copy in place of the
        poison (in the projector, the poison on `topic`); a skip in the projector with `heads`, the places of the
        poisons confirmed, drops them only if they are still the first parked (else 409, nothing skipped)."""
        body: dict[str, Any] | None = {"reason": reason} if reason else None
        if replacement is not None:
            body = {"replacement": replacement}
        if heads is not None:
            body = {**(body or {}), "heads": heads}
        params = {"topic": topic} if topic else None
        result: dict[str, Any] = await self._json(
            "POST", service, f"/v1/admin/dlq/{stream}/{action}", json=body, params=params
        )
        return result

    async def rebuild(self, action: str | None = None) -> dict[str, Any]:
        if action is None:
            result: dict[str, Any] = await self._json("GET", "plr-projector", "/v1/admin/rebuild")
        elif action == "start":
            result = await self._json("POST", "plr-projector", "/v1/admin/rebuild")
        elif action == "abandon":
            result = await self._json("DELETE", "plr-projector", "/v1/admin/rebuild")
        else:
            result = await self._json("POST", "plr-projector", f"/v1/admin/rebuild/{action}")
        return result

    # --- learner erasure (validation, operators) -------------------------------------------------

    async def erase_learner(self, uln: str, reason: str) -> tuple[dict[str, Any], bool]:
        """The erasure, and whether this call made it (False: the learner was erased before, nothing changed)."""
        response = await self._request(
            "POST", "validation", f"/v1/admin/learners/{uln}/erasure", json={"reason": reason}
        )
        erasure: dict[str, Any] = response.json()
        return erasure, response.status_code == 201

    async def erasure_reach(self, uln: str) -> dict[str, Any]:
        """What an erasure of the ULN would erase now: `erased_with`, the learner's other ULNs (merged with it),
        erased with it as one person; `erased` and `erasure` when it was erased already. A ULN the erasure would
        refuse is refused alike (NotFound, Refused)."""
        reach: dict[str, Any] = await self._json("GET", "validation", f"/v1/admin/learners/{uln}/erasure")
        return reach

    async def erasures(self, *, after: str | None = None, limit: int = 50) -> dict[str, Any]:
        """A page of the audit of erasures, newest first (`erasures`: who erased whom, when and why), after
        the page whose `next` is `after`; `next` starts the page that follows (None on the last)."""
        page: dict[str, Any] = await self._json(
            "GET", "validation", "/v1/admin/erasures", params={"after": after, "limit": limit}
        )
        return page

    async def key_wrapping(self) -> dict[str, Any]:
        """Which wrapping key wraps new learner keys, and the stored keys counted by wrapping key (decision 0116)."""
        state: dict[str, Any] = await self._json("GET", "validation", "/v1/admin/keyring")
        return state

    async def rewrap_keys(self) -> dict[str, Any]:
        """Re-wraps up to 100,000 stored learner keys with the current wrapping key; what is left is `to_rewrap`."""
        state: dict[str, Any] = await self._json(
            "POST", "validation", "/v1/admin/keyring/rewrap", params={"at_most": 100_000}
        )
        return state

    # --- challenges ------------------------------------------------------------------------------

    async def challenges(
        self,
        states: Sequence[str] | None = None,
        *,
        ulns: Sequence[str] | None = None,
        ao_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """A page of challenges, newest first (`items`), in any of `states`, of any of `ulns` (an operator's: of
        `ao_id`, or every AO's), after the page whose `next` is `after`; `next` starts the page that follows (None
        on the last)."""
        params = {"state": list(states) if states else None, "uln": list(ulns) if ulns else None, "ao_id": ao_id}
        page: dict[str, Any] = await self._json(
            "GET", "challenges", "/v1/challenges", params={**params, "after": after, "limit": limit}, timeout=timeout
        )
        return page

    async def open_challenges_count(self, *, timeout: float | None = None) -> int:
        """How many of the AO's challenges are open (raised or acknowledged)."""
        counts: dict[str, int] = await self._json("GET", "challenges", "/v1/challenges/open-counts", timeout=timeout)
        return counts["open"]

    async def every_challenge(
        self, states: Sequence[str], *, ulns: Sequence[str], timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Every challenge in any of `states` of any of `ulns` (one learner's: a few), page after page. `timeout`:
        seconds for every page together, for a page that can do without them (Unavailable once they are up)."""
        found: list[dict[str, Any]] = []
        after = None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    page = await self.challenges(states, ulns=ulns, after=after, limit=1000, timeout=timeout)
                    found += page["items"]
                    if (after := page["next"]) is None:
                        return found
        except TimeoutError:
            raise Unavailable("The challenges service did not answer in time.") from None

    async def challenge(self, challenge_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "challenges", f"/v1/challenges/{challenge_id}")
        return result

    async def correcting_batches(self, challenge_id: uuid.UUID) -> list[dict[str, Any]]:
        """The batches the challenges service takes as the correction of the challenge, newest first."""
        found: dict[str, Any] = await self._json(
            "GET", "challenges", f"/v1/challenges/{challenge_id}/correcting-batches"
        )
        items: list[dict[str, Any]] = found["items"]
        return items

    async def acknowledge_challenge(self, challenge_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("POST", "challenges", f"/v1/challenges/{challenge_id}/acknowledge")
        return result

    async def resolve_challenge(
        self, challenge_id: uuid.UUID, resolution: str, note: str | None, correcting_batch_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """`correcting_batch_id`: with `corrected`, the batch that corrected the data (the service judges it)."""
        body: dict[str, Any] = {"resolution": resolution, "note": note}
        if correcting_batch_id is not None:
            body["correcting_batch_id"] = str(correcting_batch_id)
        result: dict[str, Any] = await self._json(
            "POST", "challenges", f"/v1/challenges/{challenge_id}/resolve", json=body
        )
        return result

    # --- challenge contact (notifier) ------------------------------------------------------------

    async def challenge_contact(self, ao_id: str, *, timeout: float | None = None) -> dict[str, Any] | None:
        """The AO's challenge contact; None: it has none. `timeout`: for a page that can do without it."""
        try:
            result: dict[str, Any] = await self._json(
                "GET", "notifier", f"/v1/ao/{ao_id}/challenge-contact", timeout=timeout
            )
        except NotFound:
            return None
        return result

    async def set_challenge_contact(self, ao_id: str, contact: Mapping[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(
            "PUT", "notifier", f"/v1/ao/{ao_id}/challenge-contact", json=dict(contact)
        )
        return result

    async def held_challenge_notices(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """The AOs whose challenge notices wait for a contact (or another address), the longest waiting first
        (operators: `lrs challenges waiting`)."""
        held: list[dict[str, Any]] = await self._json(
            "GET", "notifier", "/v1/challenge-contacts/missing", timeout=timeout
        )
        return held

    async def deliveries(
        self, *, batch: uuid.UUID | None = None, challenge: str | None = None, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """The emails the notifier keeps of one batch or one challenge (operators: `lrs emails show`)."""
        params = {"batch": None if batch is None else str(batch), "challenge": challenge}
        found: list[dict[str, Any]] = await self._json(
            "GET", "notifier", "/v1/deliveries", params=params, timeout=timeout
        )
        return found

    # --- MI (reporting) --------------------------------------------------------------------------

    # An AO's user reads its own AO's; an operator (support duty) `ao_id`'s, or without one every AO's.

    async def report(self, report: str, period: str, ao_id: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(
            "GET", "reporting", f"/v1/reports/{report}", params={"period": period, "ao_id": ao_id}
        )
        return result

    async def report_range(self, report: str, first: str, last: str, ao_id: str | None = None) -> list[dict[str, Any]]:
        """The items of a report taking a range of months (`from`, `to`, both included)."""
        result: dict[str, Any] = await self._json(
            "GET", "reporting", f"/v1/reports/{report}", params={"from": first, "to": last, "ao_id": ao_id}
        )
        items: list[dict[str, Any]] = result["items"]
        return items

    async def report_months(self, report: str, first: str, last: str, ao_id: str | None = None) -> dict[str, Any]:
        """A report's whole answer over a range of months (`from`, `to`, both included): its items, one per AO and
        month, and whether its figures are `complete`. Submissions and timeliness take a range too (one read of the
        months, not one call per month)."""
        result: dict[str, Any] = await self._json(
            "GET", "reporting", f"/v1/reports/{report}", params={"from": first, "to": last, "ao_id": ao_id}
        )
        return result
