"""How the CLI finds and calls the services: URLs and the API key from the environment or flags.

Live and the Sandpit are two environments of the same services (decision 0060): `--sandpit` (or
`LRS_ENVIRONMENT=sandpit`) takes every URL from `LRS_SANDPIT_<SERVICE>_URL` and the key from
`LRS_SANDPIT_API_KEY`. Every answer names its environment in the `LRS-Environment` header, and the CLI
refuses an answer from the other one, so a rehearsal never lands on a live PLR by a wrong URL.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import shlex
import ssl
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

import httpx

from lrs_cli.files import read_bounded
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import CODES_BY_STATUS, ProblemCode
from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment
from lrs_platform.clock import ENGLAND
from lrs_platform.problem_words import said_once

DEFAULT_URLS = {
    "ingest": "http://127.0.0.1:8001",
    "validation": "http://127.0.0.1:8002",
    "plr_projector": "http://127.0.0.1:8003",
    "challenges": "http://127.0.0.1:8004",
    "notifier": "http://127.0.0.1:8005",
    "reporting": "http://127.0.0.1:8006",
    "portal": "http://127.0.0.1:8007",
}
"""Where each service answers when neither its LRS_<SERVICE>_URL nor LRS_API_URL is set: the ports the services
listen on when started by hand (`make up` picks ports of its own and writes them to .run/env)."""

API_URL = "LRS_API_URL"
BEHIND_THE_API_HOST = frozenset(DEFAULT_URLS) - {"portal"}
"""The services whose public routes one host answers (`https://api.<host>/`, docs/deploy.md): each defaults to
$LRS_API_URL. The portal has a host of its own, and its account API (`lrs users`) is reached by port-forward."""


class ExitCode(IntEnum):
    """`lrs` exit statuses, documented in docs/operations.md; scripts depend on them."""

    OK = 0  # done: a batch completed, even with some of its records rejected
    FAILED = 1  # a batch refused at the door, failed (RS005, also as `batch check` projects it), abandoned; an error
    # answer of another kind (404, 409, 422, 500) or another failure
    USAGE = 2  # a bad option or file; a configuration no retry mends (a malformed URL, a URL variable not set, an
    # untrusted certificate)
    NOT_FINAL = 3  # the batch was still being decided when --wait ran out; a reset or replay still under way; a PLR
    # read after a batch a maintenance window holds (printed without it)
    UNREACHABLE = 4  # no answer from a service (or from the database `lrs credentials` uses), or an answer that it is
    # unavailable for now (502, 503, 504: the service or a gateway in front of it), or that the request stopped
    # arriving (408: nothing of it was kept): try again later
    KEY_REFUSED = 5  # the API key was refused (401: unknown, revoked or malformed; 403: not allowed that; a 403 that
    # refuses the request's content, `CONTENT_REFUSED`, is 1)
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM (`timeout`, systemd, a Kubernetes job's deadline): said as Ctrl-C is


UNAVAILABLE = frozenset({502, 503, 504})
"""An answer that the service cannot serve for now: its own 503 (its database or Kafka away), or a gateway's 502, 503
or 504 (ingress-nginx while a pod restarts or is gone)."""


CONTENT_REFUSED = frozenset({ProblemCode.BATCH_OF_ANOTHER_AO.value})
"""The codes of a 403 that refuses what the request holds, not the key: a batch whose header names another AO is put
right in the file (docs/rules.md), so it is exit status 1, as a refusal at the door; a 401, and any other 403 (a key
not allowed that, out of its scope), stays 5."""


def exit_code_of_answer(status_code: int, code: str | None = None) -> ExitCode:
    """The exit status of an error answer: a refused key (5) and an LRS unavailable for now (4) told apart from the
    rest (1), so that a script can route each to whoever can put it right. `code`: the problem's, which tells a 403
    refusing the request's content (`CONTENT_REFUSED`, 1) from one refusing the key."""
    if status_code == 403 and code in CONTENT_REFUSED:
        return ExitCode.FAILED
    if status_code in (401, 403):
        return ExitCode.KEY_REFUSED
    if status_code in UNAVAILABLE or status_code == STALLED:
        return ExitCode.UNREACHABLE
    return ExitCode.FAILED


STALLED = 408
"""The request stopped arriving (ingest's upload idle deadline, or a gateway's body timeout): nothing of it was kept, and
sending it again is safe, so it is the network's fault for now (exit status 4), not a refusal of what was sent (1)."""


KEY_FILE_BYTES = 4_096
"""Far more than a key (`lrs_sbx_` and some 60 characters) with a line ending or a byte-order mark: a larger
file is some other file named by mistake (or a device), and is not read whole."""


class CommandError(Exception):
    """A failure to report to the user in one line, without a traceback."""

    exit_code = ExitCode.FAILED


class UsageError(CommandError):
    exit_code = ExitCode.USAGE


class AnswerError(CommandError):
    """A service's answer of an error (`expect_ok`): its status says whether the key was refused (401, 403), and the
    exit status (`exit_code_of_answer`)."""

    def __init__(self, message: str, status_code: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.exit_code = self._exit_code_of(status_code)

    def _exit_code_of(self, status_code: int) -> ExitCode:
        return exit_code_of_answer(status_code, self.code)

    @property
    def refused(self) -> bool:
        return self.status_code in (401, 403) and self.code not in CONTENT_REFUSED


class NotFinalError(AnswerError):
    """A wait the service ran out of (503 PROJECTION_PENDING): not final, as a `--wait` that ran out (exit status 3),
    and no fault of the LRS to quote to its service desk."""

    def _exit_code_of(self, status_code: int) -> ExitCode:
        return ExitCode.NOT_FINAL


PENDING = "PROJECTION_PENDING"


SANDPIT_SERVICES = frozenset({"ingest", "validation", "plr_projector", "notifier"})


def environment_from(sandpit: bool) -> Environment:
    if sandpit:
        return Environment.SANDPIT
    named = os.environ.get("LRS_ENVIRONMENT", Environment.LIVE.value).strip().lower() or Environment.LIVE.value
    try:
        return Environment(named)
    except ValueError as error:
        raise UsageError(f"LRS_ENVIRONMENT is {named!r}: it is live or sandpit") from error


@dataclass(frozen=True)
class Connection:
    """Where the commands go: one environment, its service URLs and its API key."""

    api_key: str | None
    environment: Environment = Environment.LIVE
    key_file: Path | None = None

    @staticmethod
    def from_environment(key_file: Path | None = None, environment: Environment = Environment.LIVE) -> Connection:
        if key_file:
            read = read_bounded(key_file, KEY_FILE_BYTES)
            if read.too_large:
                raise UsageError(
                    f"the key file {key_file} is more than {KEY_FILE_BYTES:,} bytes: is it the key `lrs credentials`"
                    " wrote?"
                )
            try:
                # utf-8-sig: a key saved by an editor that starts its files with a byte-order mark still reads
                key = read.content.decode("utf-8-sig").strip()
            except UnicodeDecodeError as error:
                raise UsageError(
                    f"the key file {key_file} is not text: is it the key `lrs credentials` wrote?"
                ) from error
            return Connection(key, environment, key_file)
        return Connection(os.environ.get(_key_variable(environment)), environment)

    @property
    def sandpit(self) -> bool:
        return self.environment is Environment.SANDPIT

    def in_sandpit(self) -> Connection:
        """The same person in the Sandpit: their --key-file if they gave one, else $LRS_SANDPIT_API_KEY."""
        return self if self.sandpit else Connection.from_environment(self.key_file, Environment.SANDPIT)

    def command(self, arguments: str) -> str:
        """`lrs ARGUMENTS` as a hint prints it: to the same environment with the same key file, or a hint printed
        in the Sandpit would act on live when run as printed."""
        environment = " --sandpit" if self.sandpit else ""
        key = f" --key-file {shlex.quote(str(self.key_file))}" if self.key_file else ""
        return f"lrs{environment}{key} {arguments}"

    def url(self, service: str) -> str:
        """The service's LRS_<SERVICE>_URL, else (the services of api.<host>) LRS_API_URL, else its loopback default
        (`DEFAULT_URLS`, which `unset_url_variable` names when nothing answers there); in the Sandpit
        LRS_SANDPIT_<SERVICE>_URL, which must be set."""
        variable = self.url_variable(service)
        if not self.sandpit:
            return (os.environ.get(variable) or DEFAULT_URLS[service]).rstrip("/")
        if service not in SANDPIT_SERVICES:
            raise CommandError(f"the Sandpit has no {service.replace('_', '-')} service: it is live only")
        if not (url := os.environ.get(variable)):
            raise UsageError(f"{variable} is not set: the Sandpit's services have URLs of their own")
        return url.rstrip("/")

    def _url_variable(self, service: str) -> str:
        return f"LRS_SANDPIT_{service.upper()}_URL" if self.sandpit else f"LRS_{service.upper()}_URL"

    def url_variable(self, service: str) -> str:
        """The variable the service's URL is taken from, as messages name it: its LRS_<SERVICE>_URL when set (or in
        the Sandpit, or when nothing is set: the one to set), else LRS_API_URL for a service of api.<host>."""
        own = self._url_variable(service)
        if self.sandpit or os.environ.get(own) or service not in BEHIND_THE_API_HOST:
            return own
        return API_URL if os.environ.get(API_URL) else own

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        if not self.api_key and self.key_file:
            raise UsageError(f"no API key: the key file {self.key_file} is empty")
        if not self.api_key:
            variable = _key_variable(self.environment)
            raise UsageError(f"no API key: set {variable} or pass --key-file")
        if not _usable_key(self.api_key):
            where = f"the key file {self.key_file}" if self.key_file else _key_variable(self.environment)
            raise UsageError(f"{where} does not hold an API key: a key is visible ASCII characters only (lrs_…)")
        base_url = self.url(service)
        variable = self.url_variable(service)
        refuse_key_in_clear(base_url, variable)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.sandpit:
            # Checked before anything is sent: a batch meant for the Sandpit must never reach live.
            with httpx.Client(timeout=timeout) as probe:
                answer = probe.get(f"{base_url}/healthz")
                if ENVIRONMENT_HEADER not in answer.headers and answer.status_code in UNAVAILABLE:
                    # a gateway's page says no environment: nothing is sent until the Sandpit says it is there
                    raise AnswerError(problem_text(answer), answer.status_code)
                _check_environment(answer, Environment.SANDPIT)
        expected = self.environment
        return httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            event_hooks={
                "request": [lambda request: request.extensions.__setitem__(URL_VARIABLE, variable)],
                "response": [lambda response: _check_environment(response, expected)],
            },
        )


URL_VARIABLE = "lrs_url_variable"
"""The extension of each request that names the variable its URL came from (`Connection.url_variable`), for the
messages that send the user to it."""


def variable_of(request: httpx.Request | None) -> str:
    """The variable the request's URL came from, as `Connection.client` marked it; else the variables' pattern."""
    variable = request.extensions.get(URL_VARIABLE) if request is not None else None
    return variable if isinstance(variable, str) else "LRS_<SERVICE>_URL"


PLAIN_HTTP_ALLOWED = "LRS_ALLOW_PLAIN_HTTP"


def refuse_key_in_clear(base_url: str, variable: str) -> None:
    """An API key goes over plain `http://` only to this machine or to a name inside the cluster; anywhere else
    (an `http` typed for `https`) it would cross a network anyone on the way can read, so nothing is sent."""
    url = httpx.URL(base_url) if "://" in base_url else None
    if url is None or url.scheme != "http" or _inside(url.host) or os.environ.get(PLAIN_HTTP_ALLOWED) == "1":
        return
    raise UsageError(
        f"{variable} is {base_url}: the API key would cross the network unencrypted, so nothing was sent. Use"
        f" https://, or set {PLAIN_HTTP_ALLOWED}=1 if the network to {url.host} is private"
    )


def _inside(host: str) -> bool:
    """This machine (loopback), or a name only the cluster's DNS answers: a single label (`ingest`) or a Kubernetes
    service name (`ingest.lrs.svc`, `ingest.lrs.svc.cluster.local`)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return "." not in host or host.endswith((".svc", ".svc.cluster.local"))


def _key_variable(environment: Environment) -> str:
    return "LRS_SANDPIT_API_KEY" if environment is Environment.SANDPIT else "LRS_API_KEY"


def _check_environment(response: httpx.Response, expected: Environment) -> None:
    if ENVIRONMENT_HEADER not in response.headers and response.status_code in UNAVAILABLE:
        return  # a gateway's page while the service is away, from no environment (the Sandpit's URL was checked
        # before anything was sent): `expect_ok` says it
    answered = response.headers.get(ENVIRONMENT_HEADER, Environment.LIVE.value)
    if answered == expected.value:
        return
    where = f"{response.request.url.scheme}://{response.request.url.netloc.decode()}"
    if expected is Environment.SANDPIT:
        raise CommandError(f"{where} is not the Sandpit (it answers as {answered}): check LRS_SANDPIT_<SERVICE>_URL")
    if batch_id := _batch_received(response):
        raise CommandError(
            f"{where} is the Sandpit, not live: the file was received by the Sandpit as batch {batch_id}, and"
            " nothing reached live. Check LRS_<SERVICE>_URL, or pass --sandpit"
        )
    raise CommandError(f"{where} is the Sandpit, not live: check LRS_<SERVICE>_URL, or pass --sandpit")


def _batch_received(response: httpx.Response) -> str | None:
    """The id of the batch a 202 says was received, else None: a person told only "not live" would not know
    whether the file went anywhere. (A response hook runs before the body is read.)"""
    if response.status_code != 202:
        return None
    try:
        body: Any = json.loads(response.read())
    except (ValueError, httpx.HTTPError):
        return None
    batch_id = body.get("batch_id") if isinstance(body, dict) else None
    return batch_id if isinstance(batch_id, str) else None


def place_in_file(line: int, column: int | None, batch_format: BatchFormat | None) -> str:
    """Where a refusal of a batch file points, in words true of the file: a fault inside a JSON record is placed by
    the record's position among the records (`lrs_domain.formats.json_batch` gives it no column), `record N`;
    anything else by the file's `line N` and, when given, `column C` (a character in XML and JSON, a field in CSV)."""
    if batch_format is BatchFormat.JSON and not column:
        return f"record {line}"
    return f"line {line}, column {column}" if column else f"line {line}"


def record_place(line: int, batch_format: BatchFormat | None) -> str:
    """Where a record's result points: a CSV record's `line N` is its row; an XML or JSON record's number is its
    position among the records (DOMAIN.md §7), `record N`, as refusals say it (`place_in_file`)."""
    return f"record {line}" if batch_format in (BatchFormat.XML, BatchFormat.JSON) else f"line {line}"


def problem_text(
    response: httpx.Response, batch_format: BatchFormat | None = None, named: Mapping[str, str] | None = None
) -> str:
    """The problem an answer holds, in one line; `batch_format`: of the batch file the request sent, to say where
    in it a refusal points; `named`: the command's own names of request parameters, as `for_the_reader` takes."""
    try:
        body: Any = response.json()
    except ValueError:  # a proxy's error page, another program on the port: its whole page says nothing useful
        said = response.headers.get("content-type") or "no content type"
        if response.status_code in UNAVAILABLE:  # ingress-nginx's own page while a pod restarts or is gone
            return (
                f"a gateway in front of the LRS answered {response.status_code} ({said} from"
                f" {response.request.url.copy_with(query=None)}): the service may be restarting; try again later."
            )
        if response.status_code == STALLED:  # a gateway's body timeout: the request was not passed on whole
            return (
                f"a gateway in front of the LRS answered 408 ({said} from"
                f" {response.request.url.copy_with(query=None)}): the request stopped arriving, so nothing of it was"
                " kept; send it again."
            )
        return (
            f"HTTP {response.status_code} from {response.request.url.copy_with(query=None)} ({said}), not the LRS's"
            " problem document: check the LRS_<SERVICE>_URL variables"
        )
    if isinstance(body, dict):
        code = body.get("code")
        if code == CODES_BY_STATUS.get(response.status_code):
            code = None  # the status says it already ("HTTP 404: NOT_FOUND - ..." says it twice)
        title, detail = body.get("title"), body.get("detail")
        said = said_once(str(title), str(detail) if detail else None) if title else detail
        said = for_the_reader(str(said), named) if said else said
        where = ""
        if body.get("line"):
            where = f" ({place_in_file(body['line'], body.get('column'), batch_format)})"
        if response.status_code == 404 and not detail:  # no route of the service: not the service named
            where = f" at {response.request.url.copy_with(query=None)}: check the LRS_<SERVICE>_URL variables"
        said_all = " - ".join(str(part) for part in (code, said) if part)
        return f"HTTP {response.status_code}: {said_all}{where}.{_no_route_asked(response, body, detail)}" + (
            _request_to_quote(response)
        )
    return f"HTTP {response.status_code}: {body}{_request_to_quote(response)}"


_PARAMETER = re.compile(r"\b(?P<where>query|body|path)\.(?P<name>[a-z][a-z0-9_]*)\b(?!\.)")
_OPTION_OF = {"ao_id": "ao", "correcting_batch_id": "correcting-batch"}
"""A request parameter whose `lrs` option is named otherwise (`ao_id`: `--ao`)."""
_BARE_PARAMETERS = re.compile(r"(?<![\w.?&=/`-])(?P<name>after_batch)\b(?!=)")
"""Parameters a service's words name bare, not as `query.…` (the PLR's "read … without after_batch")."""


def _option(found: re.Match[str], named: Mapping[str, str]) -> str:
    name = found["name"]
    if name in named:
        return named[name]
    if found.groupdict().get("where") == "path":  # a part of the address: an argument of the command, as its help
        return name.upper()
    return "--" + _OPTION_OF.get(name, name).replace("_", "-")


def for_the_reader(said: str, named: Mapping[str, str] | None = None) -> str:
    """A service's problem in the words of the command that asked: a request parameter (`query.period`, `body.note`,
    `after_batch`) as the option that sends it (`--period`, `--note`, `--after-batch`), a path's (`path.uln`) as the
    argument (`ULN`); "for this caller" as whose key it is. `named`: a command's own name of a parameter, where it is
    not the option of that name (`users email` sends its argument ADDRESS as `email`)."""
    option = functools.partial(_option, named=named or {})
    said = _PARAMETER.sub(option, said)
    said = _BARE_PARAMETERS.sub(option, said)
    return said.replace(" for this caller", " that your API key can see")


NO_ROUTE = "No route answers this address"
"""How a service's 404 for an address none of its routes answers begins (`lrs_platform.http.no_route_detail`)."""


def _no_route_asked(response: httpx.Response, body: dict[str, Any], detail: object) -> str:
    """For a 404 no route answers (a base URL with an extra `/v1`, one base for a service behind another host): the
    address asked, as the service's answer has it (`instance`), and the variable it came from."""
    if response.status_code != 404 or not str(detail or "").startswith(NO_ROUTE):
        return ""
    request = _answered_request(response)
    asked = str(request.url.copy_with(query=None)) if request is not None else None
    if request is not None and isinstance(instance := body.get("instance"), str) and instance.startswith("/"):
        asked = f"{request.url.scheme}://{request.url.netloc.decode()}{instance}"
    return f" lrs asked {asked}: check {variable_of(request)}." if asked else ""


def _request_to_quote(response: httpx.Response) -> str:
    """A failure on the LRS's side names its request: the id the service's log lines carry."""
    request_id = response.headers.get("X-Request-Id")
    if response.status_code < 500 or not request_id or _problem_code(response) == PENDING:
        return ""
    return f" (request {request_id}: quote it to the LRS service desk)"


def _problem_code(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def read_replacement(file: str) -> Any:
    """A corrected copy of a parked message, from a JSON file (`lrs dlq retry --replacement`); one larger than a
    retry's whole request may be is refused unread."""
    # Imported here: lrs_platform.http brings the web stack, a quarter of a second on every other command's start.
    from lrs_platform.http import DEAD_LETTER_BODY_BYTES

    try:
        read = read_bounded(Path(file), DEAD_LETTER_BODY_BYTES)
        if read.too_large:
            raise CommandError(
                f"cannot read the replacement envelope: {file} is more than the {DEAD_LETTER_BODY_BYTES:,} bytes"
                " a retry takes"
            )
        if not read.content.strip():
            raise CommandError(f"cannot read the replacement envelope: {file} is empty")
        return json.loads(read.content.decode("utf-8"))
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read the replacement envelope: {error}") from error


def expect_ok(response: httpx.Response, named: Mapping[str, str] | None = None) -> Any:
    """The answer's JSON (None for no content), or the error its problem says; `named`: the command's own names of
    request parameters, as `for_the_reader` takes."""
    if response.status_code >= 400:
        if response.status_code == 503 and _problem_code(response) == PENDING:
            raise NotFinalError(problem_text(response, named=named), response.status_code)
        said = problem_text(response, named=named)
        request = _answered_request(response)
        if response.status_code in (502, 504) and request is not None and _uploads_a_batch(request):
            # the gateway gave up on ingest after the file went up: ingest may have kept it all the same
            said = f"{said} {batch_kept_unknown('Idempotency-Key' in request.headers)}"
        raise AnswerError(said, response.status_code, _problem_code(response))
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as error:  # a proxy's sign-in page, another program on the port
        said = response.headers.get("content-type", "no content type")
        raise CommandError(
            f"{response.request.url.copy_with(query=None)} answered {response.status_code} with {said}, not the"
            " LRS's JSON: check the LRS_<SERVICE>_URL variables"
        ) from error


def read_page(
    connection: Connection, service: str, path: str, *, limit: int, after: str | None, **only: str | None
) -> dict[str, Any]:
    """A page of a list read a page at a time (decision 0118): its items, newest first, and `next`, where the page
    after it starts (None on the last). `only` are the list's filters, each left out when not given."""
    params: dict[str, Any] = {"limit": limit, **{name: value for name, value in only.items() if value}}
    if after:
        params["after"] = after
    with connection.client(service) as client:
        page: dict[str, Any] = expect_ok(client.get(path, params=params))
    return page


def _usable_key(key: str) -> bool:
    """An API key is visible ASCII (`lrs_…`): anything else cannot be sent in a header, so it is refused
    before a request, naming where it came from, rather than failing deep in the HTTP client."""
    return key.isascii() and key.isprintable() and " " not in key


@dataclass
class Counted:
    """What a paged listing said of itself: how many items it has in all (once its first page is read)."""

    total: int | None = None


def pages(
    client: httpx.Client, path: str, items: str, page_size: int, counted: Counted | None = None, **params: Any
) -> Iterator[dict[str, Any]]:
    """Every item of a paged listing (`page`, `page_size`, `total`), one page in memory at a time."""
    page = 1
    while True:
        body = expect_ok(client.get(path, params={**params, "page": page, "page_size": page_size}))
        if counted is not None:
            counted.total = body["total"]
        yield from body[items]
        if not body[items] or page * page_size >= body["total"]:
            return
        page += 1


def unreachable_text(error: httpx.TransportError) -> str:
    """What to say of a request that got no answer: the service out of reach, or reached but silent too long; a
    certificate not trusted, or a URL nobody set (`misconfigured`), said as the configuration to put right."""
    request = _request_of(error)
    where = f"{request.url.scheme}://{request.url.netloc.decode()}" if request is not None else "the service"
    if isinstance(error, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return _unanswered_text(error, request, where)
    if isinstance(error, BROKEN) and (request is None or unset_url_variable(request.url) is None):
        return _broken_text(error, request, where)
    if (untrusted := untrusted_certificate(error)) is not None:
        host = request.url.netloc.decode() if request is not None else "the service"
        reason = untrusted.verify_message or untrusted.reason or str(untrusted)
        if untrusted.verify_code in NAME_MISMATCH:  # a trusted certificate, of another host: a mistyped host
            return f"the certificate of {host} is for another name ({reason}): check the URL ({variable_of(request)})"
        return f"the certificate of {host} is not trusted ({reason}): set SSL_CERT_FILE to your CA bundle"
    reason = str(error) or type(error).__name__
    if request is not None and (variable := unset_url_variable(request.url)):
        return f"{variable} is not set, so lrs tried {where} ({reason}): {_set_it(variable)}"
    variable = variable_of(request)
    its = "its " if variable.startswith("LRS_<") else ""  # no variable known: the pattern of them
    return f"cannot reach {where} ({reason}): is it running, and is {its}{variable} right?"


NAME_MISMATCH = frozenset({62, 64})
"""OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH: the certificate verified, but names
another host than the URL's."""


def misconfigured(error: httpx.TransportError) -> bool:
    """Whether no answer came because of how lrs is set up, which no retry mends (exit status 2, not 4): a certificate
    the machine does not trust, or a loopback default tried because no URL variable was set."""
    request = _request_of(error)
    if untrusted_certificate(error) is not None:
        return True
    return request is not None and unset_url_variable(request.url) is not None


def untrusted_certificate(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind a connection that failed, if that is why (httpx's error is
    raised from httpcore's, raised from the ssl module's)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def unset_url_variable(url: httpx.URL) -> str | None:
    """The URL variable whose absence made lrs try `url`, a loopback default (`DEFAULT_URLS`), else None. Cron and
    the like start lrs with almost no environment: told "cannot reach" a server's own loopback, a script would retry
    all night a URL nobody chose."""
    chosen = (value for name, value in os.environ.items() if name.startswith("LRS_") and name.endswith("_URL"))
    if url.scheme != "http" or any(_origin(value) == (url.scheme, url.netloc) for value in chosen):
        return None  # a URL someone set, if only for another service or the Sandpit
    for service, default in DEFAULT_URLS.items():
        if httpx.URL(default).netloc == url.netloc:
            return f"LRS_{service.upper()}_URL"
    return None


def _origin(text: str) -> tuple[str, bytes] | None:
    try:
        url = httpx.URL(text.strip())
    except (httpx.InvalidURL, TypeError):
        return None
    return url.scheme, url.netloc


def _set_it(variable: str) -> str:
    """How to set the URL `variable` names; after `make up`, by sourcing the .run/env it wrote."""
    said = f"set {API_URL} (https://api.<host>) or {variable}" if variable != "LRS_PORTAL_URL" else f"set {variable}"
    try:
        here = Path.cwd()
        in_a_checkout = any((folder / ".run" / "env").is_file() for folder in (here, *here.parents))
    except OSError:  # a working directory since removed
        in_a_checkout = False
    return f"{said} (after `make up`: source .run/env)" if in_a_checkout else said


def _request_of(error: httpx.TransportError) -> httpx.Request | None:
    try:
        return error.request
    except RuntimeError:  # an error raised without its request
        return None


def _unanswered_text(error: httpx.TimeoutException, request: httpx.Request | None, where: str) -> str:
    """The connection was made, so the service is running: saying it cannot be reached sends the user looking
    for a fault in the wrong place, and for a submission the user must learn whether to send it again."""
    phase = "write" if isinstance(error, httpx.WriteTimeout) else "read"
    timeouts = request.extensions.get("timeout", {}) if request is not None else {}
    seconds = timeouts.get(phase)
    within = f" within {seconds:g} s" if isinstance(seconds, (int, float)) else " in time"
    silent = f"{where} took no more of the request{within}" if phase == "write" else f"{where} did not answer{within}"
    said = f"{silent}: it may be busy or waiting on its database"
    if request is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return f"{said}; try again later"
    if _uploads_a_batch(request):
        return f"{said}. {batch_kept_unknown('Idempotency-Key' in request.headers)}"
    return f"{said}. Whether it did what was asked is unknown: look before asking again"


BROKEN = (httpx.ReadError, httpx.WriteError, httpx.CloseError, httpx.RemoteProtocolError)
"""A connection that was made, then broke before the answer came (reset, closed by a proxy or a NAT timing out, an
answer cut short); a connection never made is an `httpx.ConnectError` or `httpx.ConnectTimeout`."""


def _broken_text(error: httpx.TransportError, request: httpx.Request | None, where: str) -> str:
    """The service was reached, so its URL is right: asking whether it is sends the user the wrong way; and after a
    write the request may have arrived whole and been done, so the user must learn whether to send it again."""
    said = f"the connection to {where} broke before it answered ({str(error) or type(error).__name__})"
    if request is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return f"{said}: try again"
    if _uploads_a_batch(request):
        return f"{said}. {batch_kept_unknown('Idempotency-Key' in request.headers)}"
    return f"{said}. Whether it did what was asked is unknown: look before asking again"


def _uploads_a_batch(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/v1/batches")


def _answered_request(response: httpx.Response) -> httpx.Request | None:
    try:
        return response.request
    except RuntimeError:  # a response made without its request
        return None


def others_may_read(key_file: Path) -> int | None:
    """The permission bits of `key_file` when it is a file other users may read (group or others), else None: a key
    there is anyone's on the machine (ssh refuses such a key; lrs warns). A pipe (`<(...)`, /dev/stdin) is not a file
    anyone else can open again."""
    try:
        mode = key_file.stat().st_mode
    except OSError:
        return None
    return stat.S_IMODE(mode) if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH) else None


def batch_kept_unknown(idempotency_key_given: bool) -> str:
    """What to do about a batch file whose sending ended before ingest answered (no answer in time, Ctrl-C)."""
    resend = (
        "submitting it again with the same --idempotency-key is safe"
        if idempotency_key_given
        else "submitting the same file again is safe: ingest answers a file it has with that first batch"
    )
    return f"Whether it kept the batch is unknown: `lrs batch list` shows it if it did, and {resend}"


def parse_moment(text: str, option: str) -> datetime:
    """An ISO-8601 moment with its time zone (`2026-06-01T22:00Z`, `2026-06-01T23:00+01:00`)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"{option} {text!r} is not an ISO-8601 time such as 2026-06-01T22:00Z") from error
    if moment.tzinfo is None:
        raise UsageError(f"{option} {text!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    if not on_both_clocks(moment):
        raise UsageError(
            f"{option} {text!r} is outside the calendar in UTC or UK time (year 1 to 9999): check the year"
        )
    return moment


def on_both_clocks(moment: datetime) -> bool:
    """Whether an instant with its zone has a UTC time and a UK time: `0001-01-01T00:10+01:00` is in year 0 in UTC
    and `9999-12-31T23:30-01:00` in year 10000, which Python's dates do not reach (saying them raises OverflowError)."""
    try:
        moment.astimezone(UTC)
        moment.astimezone(ENGLAND)
    except OverflowError:
        return False
    return True
