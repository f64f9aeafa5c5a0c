"""`lrs challenges raise|withdraw|list|ack|resolve|contact|waiting`: Event Data Challenges against an AO's achievements
(a learner raises one, and may withdraw it while it is open; the AO answers it), who at the AO is emailed when one is
raised, and which AOs' challenge emails wait for a contact (decision 0155)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from lrs_cli.choices import one_of
from lrs_cli.client import AnswerError, CommandError, Connection, UsageError, expect_ok
from lrs_cli.identifiers import ao_id_value
from lrs_cli.listing import EveryOption, every_page
from lrs_cli.output import JsonOption, connection, print_json, print_text, stdout, table, tell_more, uuid_value, warn
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.challenge import ChallengeResolution, resolution_label
from lrs_contracts.codes import ProblemCode
from lrs_contracts.text import has_visible_text, shown_on_one_line, with_bidi_controls_shown
from lrs_domain.identifiers import display_qan

app = typer.Typer(
    help="Event Data Challenges: raise and withdraw (learners), list, acknowledge, resolve; the AO's challenge contact;"
    " the AOs whose challenge emails wait for one.",
    no_args_is_help=True,
)
ChallengeId = Annotated[
    str,
    typer.Argument(
        help="The challenge's id, from `lrs challenges list`.",
        callback=uuid_value("a challenge id is a UUID, as `lrs challenges list` shows it"),
    ),
]


class State(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AoResolution(StrEnum):
    """What the AO resolves a challenge as: every resolution but `withdrawn`, which is the learner's alone (`lrs
    challenges withdraw`, decision 0194)."""

    CORRECTED = ChallengeResolution.CORRECTED.value
    UPHELD = ChallengeResolution.UPHELD.value
    REJECTED = ChallengeResolution.REJECTED.value


CHALLENGES_PAGE = 1_000  # the largest page the challenges service serves


def challenges(
    connection: Connection, states: list[State], ao: str | None, limit: int, after: str | None = None
) -> dict[str, Any]:
    """A page: `items`, newest first, and `next`, where the page after it starts (None on the last)."""
    params: dict[str, Any] = {"limit": limit, "state": [state.value for state in states]}
    if ao:
        params["ao_id"] = ao
    if after:
        params["after"] = after
    with connection.client("challenges") as client:
        page: dict[str, Any] = expect_ok(client.get("/v1/challenges", params=params))
    return page


def reason_text(challenge: dict[str, Any]) -> Text:
    """The learner's reason, or "(erased)" once their personal data was erased (decision 0080)."""
    if challenge.get("personal_data_erased") or challenge["reason"] is None:
        return Text("(erased)", style="italic")
    return Text(with_bidi_controls_shown(challenge["reason"]))


def uln_shown(challenge: dict[str, Any]) -> str:
    """The ULN the achievement was recorded under, as its AO knows it (decision 0162); the raising learner's when
    the challenge does not say (raised before it was kept), or when it is the same."""
    recorded: str | None = (challenge.get("achievement") or {}).get("uln")
    return recorded or str(challenge["uln"])


RESULT_STATUSES = {"P": "Provisional", "F": "Final"}


def achievement_text(challenge: dict[str, Any]) -> Text:
    """The challenged achievement as a person recognises it: its title (or qualification number), grade, award date
    and, when the challenge says it, Provisional or Final (decision 0183); its id only for a challenge that carries
    no description. Plain text, as the AO sent it: never read as markup, its bidi controls shown."""
    achievement = challenge.get("achievement")
    if not achievement:
        return Text(str(challenge["achievement_id"]))
    number = display_qan(str(achievement["qualification_number"]))  # 601/9054/1, as the email, portal and PLR show it
    named = f"{achievement['title']} ({number})" if achievement.get("title") else number
    grade = f"grade {achievement['grade']}" if achievement.get("grade") else None
    status = RESULT_STATUSES.get(achievement.get("status") or "")
    described = ", ".join(part for part in (named, grade, f"awarded {achievement['award_date']}", status) if part)
    return Text(with_bidi_controls_shown(described))


WITHDRAWN_SINCE = "now withdrawn by the AO: no longer on the PLR"
ACHIEVEMENT_AS_RAISED = "achievement when raised"
"""The list's achievement column: the achievement as the challenge described it when raised, not as it is now (a
challenge resolved "Data corrected" still names the grade that was wrong; the PLR shows the corrected one)."""


def achievement_cell(challenge: dict[str, Any]) -> Text:
    """`achievement_text`, and whether the AO has withdrawn the achievement since the challenge was raised."""
    cell = achievement_text(challenge)
    if challenge.get("achievement_withdrawn"):
        cell.append(f"; {WITHDRAWN_SINCE}", style="yellow")
    return cell


def note_text(challenge: dict[str, Any]) -> Text:
    """What the AO said resolving the challenge, for the learner. A note comes only with a resolution, so an erased
    learner's challenge not resolved never had one ("—"); resolved, the API does not say whether it had one that
    was erased or none, so "(erased)"."""
    if challenge.get("note"):
        return Text(with_bidi_controls_shown(challenge["note"]))
    if not challenge.get("personal_data_erased"):
        return Text("")
    if challenge.get("state") != State.RESOLVED:
        return Text("—", style="dim")
    return Text("(erased)", style="italic")


def dropped_note(note: str | None, challenge: dict[str, Any]) -> str | None:
    """Why the note given resolving the challenge is not in the answer: the service keeps none for an erased
    learner (decision 0080), and says so only by answering `"note": null`."""
    if note is None or challenge.get("note") is not None or not challenge.get("personal_data_erased"):
        return None
    return "the note was not kept: the learner's personal data was erased, so nothing is written for them"


def _resolution_label(challenge: dict[str, Any]) -> str:
    resolution = challenge.get("resolution")
    return resolution_label(resolution) if resolution else ""


def described(challenge: dict[str, Any]) -> str:
    text = f"challenge {challenge['challenge_id']}: {challenge['state']}"
    if resolution := _resolution_label(challenge):
        text += f" ({resolution})"
    return text


def ao_named(connection: Connection, challenge: dict[str, Any]) -> str:
    """The challenge's AO by its name, as the register holds it, with its id in brackets: the name is copied onto
    each of its achievements on the raising learner's PLR (the challenges service keeps no AO names). The id alone
    when the PLR cannot be read or no longer holds the achievement: the challenge is raised whatever this says."""
    ao_id = str(challenge["ao_id"])
    try:
        with connection.client("plr_projector") as client:
            response = client.get(f"/v1/learners/{challenge['uln']}/plr")
    except httpx.HTTPError:
        return ao_id
    events: list[dict[str, Any]] = response.json().get("learning_events", []) if response.is_success else []
    for event in events:
        if event.get("id") == challenge["achievement_id"] and event.get("awarding_organisation_name"):
            return f"{event['awarding_organisation_name']} ({ao_id})"
    return ao_id


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        list[State] | None,
        typer.Option(help="Only challenges in this state; repeat it for several.", parser=one_of(State, "--state")),
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open challenges (raised or acknowledged).")] = False,
    ao: Annotated[str | None, typer.Option(help="Operators: only this AO's challenges.", callback=ao_id_value)] = None,
    limit: Annotated[int, typer.Option(min=1, max=CHALLENGES_PAGE, help="At most this many.")] = 100,
    after: Annotated[
        str | None, typer.Option(help="Continue a list: the position the previous page's last line gave.")
    ] = None,
    every: EveryOption = False,
    as_json: JsonOption = False,
) -> None:
    """Challenges against your achievements (a learner: the ones they raised), newest first: each achievement as it
    was when the challenge was raised, times in UK time. A page at a time (a full page ends with "more: … --after
    POSITION" on stderr), or --all."""
    # each state once: `--open` with `--state raised` (or every state named) is a list the service takes
    states = list(dict.fromkeys([*(state or []), *((State.RAISED, State.ACKNOWLEDGED) if open_only else ())]))
    to_challenges = connection(ctx)
    if every:
        page = every_page(lambda at: challenges(to_challenges, states, ao, CHALLENGES_PAGE, at), "items", after)
    else:
        page = challenges(to_challenges, states, ao, limit, after)
    found = page["items"]
    if as_json:
        print_json(found)
    else:
        listing = table(
            "challenge",
            f"raised ({UK_TIME})",
            "state",
            "ULN",
            ACHIEVEMENT_AS_RAISED,
            "reason",
            "resolution",
            f"resolved ({UK_TIME})",
            "note",
        )
        for challenge in found:
            listing.add_row(
                challenge["challenge_id"],
                uk_time(challenge["raised_at"], labelled=False),
                challenge["state"],
                uln_shown(challenge),
                achievement_cell(challenge),
                reason_text(challenge),
                _resolution_label(challenge),
                uk_time(resolved_at, labelled=False) if (resolved_at := challenge.get("resolved_at")) else "",
                note_text(challenge),
            )
        stdout().print(listing if found else "no challenges")
    tell_more(page["next"])


@app.command("raise")
def raise_command(
    ctx: typer.Context,
    achievement_id: Annotated[
        str,
        typer.Argument(
            help="The achievement's id: the `achievement id` column of `lrs plr show` (`id` with --json).",
            callback=uuid_value("an achievement id is a UUID, as `lrs plr show` shows it"),
        ),
    ],
    reason: Annotated[str, typer.Option(help="What is wrong with the data (not an appeal against a result).")],
    as_json: JsonOption = False,
) -> None:
    """Raise a challenge on an achievement of your own PLR (a learner's key); it is emailed to the AO's challenge
    contact (held until the AO has one)."""
    with connection(ctx).client("challenges") as client:
        response = client.post("/v1/challenges", json={"achievement_id": achievement_id, "reason": reason})
    if open_one := _open_already(response):
        raise AnswerError(open_already_said(open_one, connection(ctx)), 409, ProblemCode.CHALLENGE_ALREADY_OPEN)
    challenge = expect_ok(response)
    if as_json:
        print_json(challenge)
    else:
        print_text(f"{described(challenge)} with {ao_named(connection(ctx), challenge)}")


def _open_already(response: httpx.Response) -> str | bool:
    """The open challenge a raise was refused for (409 `CHALLENGE_ALREADY_OPEN`): its id, True when the answer names
    none; False for any other answer."""
    problem = _problem(response) if response.status_code == 409 else {}
    if problem.get("code") != ProblemCode.CHALLENGE_ALREADY_OPEN:
        return False
    challenge_id = problem.get("challenge_id")
    return challenge_id if isinstance(challenge_id, str) and challenge_id else True


def open_already_said(open_one: str | bool, connection: Connection) -> str:
    """A second challenge on an achievement is refused: what it means, and what the learner can do (wait for the
    answer, or withdraw the open one and raise a new one), with the commands that do it."""
    which = f": challenge {open_one}" if isinstance(open_one, str) else ""
    withdraw = connection.command(f"challenges withdraw {open_one if isinstance(open_one, str) else 'CHALLENGE_ID'}")
    return (
        f"you already have an open challenge on this achievement{which}. Wait for the awarding organisation's answer"
        f" (`{connection.command('challenges list --open')}` shows it), or withdraw that challenge first"
        f" (`{withdraw}`) and raise a new one"
    )


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        problem: Any = response.json()
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def closed_said(challenge: dict[str, Any], refused: str, connection: Connection) -> str:
    """Why a closed challenge was not acknowledged or withdrawn (`refused`: "acknowledged", "withdrawn"), read as it is
    now: withdrawn by the learner (never called "resolved": the AO would look for an answer someone gave) or resolved
    by the AO as what, and when; nothing more is needed, and where to see it."""
    when = f" on {uk_time(challenge['resolved_at'])}" if challenge.get("resolved_at") else ""
    resolution = str(challenge.get("resolution") or "")
    if resolution == ChallengeResolution.WITHDRAWN:
        how = f"the learner withdrew it{when}"
    elif resolution:
        how = f'the awarding organisation resolved it as "{resolution_label(resolution)}"{when}'
    else:
        how = f"it ended{when}"
    return (
        f"challenge {challenge['challenge_id']} is closed: {how}, so it cannot be {refused}. Nothing more is needed"
        f" (`{connection.command('challenges list --state resolved')}` shows it)"
    )


def acknowledged_already(response: httpx.Response) -> bool:
    """The service refused the acknowledgement because the challenge is acknowledged already (its 409 says so by its
    code and its `state` member): a repeat, or a colleague was first. It is done, as the portal says then; a resolved
    challenge is not acknowledged, and stays a refusal."""
    return _refused_as(response, State.ACKNOWLEDGED)


def _refused_as(response: httpx.Response, state: State) -> bool:
    """The service refused a change because the challenge is in `state` already (a 409 saying so by its code and its
    `state` member)."""
    if response.status_code != 409:
        return False
    problem = _problem(response)
    return problem.get("code") == ProblemCode.CHALLENGE_NOT_IN_THAT_STATE and problem.get("state") == state


@app.command("withdraw")
def withdraw_command(ctx: typer.Context, challenge_id: ChallengeId, as_json: JsonOption = False) -> None:
    """Withdraw a challenge you raised while it is open (a learner's key; an operator's for the learner): raised by
    mistake, or an appeal sent as a data error. It ends "Withdrawn by the learner", and the achievement may be
    challenged again. One withdrawn already is done: said so, exit 0; one the AO resolved stays a refusal."""
    with connection(ctx).client("challenges") as client:
        response = client.post(f"/v1/challenges/{challenge_id}/withdraw")
        already = False
        if _refused_as(response, State.RESOLVED):
            # as it is now: withdrawn already (a repeat changed nothing), or the AO resolved it first (the refusal)
            challenge = expect_ok(client.get(f"/v1/challenges/{challenge_id}"))
            already = challenge.get("resolution") == ChallengeResolution.WITHDRAWN
            if not already:
                raise AnswerError(
                    closed_said(challenge, "withdrawn", connection(ctx)),
                    response.status_code,
                    ProblemCode.CHALLENGE_NOT_IN_THAT_STATE,
                )
        else:
            challenge = expect_ok(response)
    if as_json:
        print_json(challenge)
    elif already:
        when = f" on {uk_time(challenge['resolved_at'])}" if challenge.get("resolved_at") else ""
        print_text(f"challenge {challenge['challenge_id']} was withdrawn already{when}: nothing changed")
    else:
        print_text(
            f"challenge {challenge['challenge_id']} withdrawn: it is closed, and the achievement may be challenged again"
        )


@app.command("ack")
def acknowledge_command(ctx: typer.Context, challenge_id: ChallengeId, as_json: JsonOption = False) -> None:
    """Acknowledge a challenge (the AO that owns the achievement). One acknowledged already is done: said so, exit 0."""
    with connection(ctx).client("challenges") as client:
        response = client.post(f"/v1/challenges/{challenge_id}/acknowledge")
        if _refused_as(response, State.RESOLVED):  # closed: said how it ended, as it is now
            raise AnswerError(
                closed_said(expect_ok(client.get(f"/v1/challenges/{challenge_id}")), "acknowledged", connection(ctx)),
                response.status_code,
                ProblemCode.CHALLENGE_NOT_IN_THAT_STATE,
            )
        already = acknowledged_already(response)
        # as it is now, for --json and to say who acknowledged it: a repeat changed nothing
        challenge = expect_ok(client.get(f"/v1/challenges/{challenge_id}") if already else response)
    if as_json:
        print_json(challenge)
    elif already and challenge["state"] == State.ACKNOWLEDGED:
        by = f", by {challenge['acknowledged_by']}" if challenge.get("acknowledged_by") else ""
        print_text(
            f"{described(challenge)} already{by}: resolve it once you have an answer for the learner"
            f" (`{connection(ctx).command(f'challenges resolve {challenge_id} --resolution …')}`)"
        )
    else:
        print_text(described(challenge))


@app.command("batches")
def correcting_batches_command(ctx: typer.Context, challenge_id: ChallengeId, as_json: JsonOption = False) -> None:
    """The batches that may be named resolving a challenge as corrected: completed, with an accepted record of the
    same learner's qualification (any award date: a wrong date is put right by a withdrawal and a new
    achievement), decided after the challenge was raised (the AO that owns it; decision 0142)."""
    with connection(ctx).client("challenges") as client:
        found: list[dict[str, Any]] = expect_ok(client.get(f"/v1/challenges/{challenge_id}/correcting-batches"))[
            "items"
        ]
    if as_json:
        print_json(found)
        return
    listing = table("batch", f"decided at ({UK_TIME})")
    for batch in found:
        listing.add_row(batch["batch_id"], uk_time(batch["decided_at"], labelled=False))
    stdout().print(listing if found else "no batch has corrected this achievement since the challenge was raised")


@app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    challenge_id: ChallengeId,
    resolution: Annotated[
        AoResolution,
        typer.Option(
            help="corrected: the corrected data was sent in a batch (name it with --correcting-batch);"
            " upheld: the data was right; rejected: not a data error. (Only the learner withdraws a challenge.)",
            parser=one_of(AoResolution, "--resolution"),
        ),
    ],
    correcting_batch: Annotated[
        str | None,
        typer.Option(
            "--correcting-batch",
            help="With corrected: the id of the completed batch that corrected the achievement, decided after the"
            " challenge was raised (`lrs challenges batches CHALLENGE_ID` lists them).",
            callback=uuid_value("a batch id is a UUID, as `lrs challenges batches CHALLENGE_ID` lists it"),
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="What was done, for the learner.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a challenge (the AO that owns the achievement); it changes no PLR by itself. One resolved already as
    asked (the same resolution, and the same batch and note where given: a repeat) is done: said so, exit 0; one
    resolved otherwise stays a refusal (exit 1) that says how it was resolved."""
    if resolution is AoResolution.CORRECTED and correcting_batch is None:
        raise UsageError(
            "--resolution corrected needs --correcting-batch BATCH_ID: name the batch that corrected it"
            f" (`{connection(ctx).command(f'challenges batches {challenge_id}')}` lists them)"
        )
    if resolution is not AoResolution.CORRECTED and correcting_batch is not None:
        raise UsageError(f"--correcting-batch goes only with --resolution corrected, not {resolution.value}")
    body = {"resolution": resolution.value, "note": note, "correcting_batch_id": correcting_batch}
    with connection(ctx).client("challenges") as client:
        response = client.post(f"/v1/challenges/{challenge_id}/resolve", json=body)
        already = False
        if _refused_as(response, State.RESOLVED):
            # as it is now: resolved as asked already (a repeat, a script run again, changed nothing), or otherwise
            challenge = expect_ok(client.get(f"/v1/challenges/{challenge_id}"))
            if not resolved_as_asked(challenge, resolution, correcting_batch, note):
                raise AnswerError(resolved_otherwise(challenge, resolution, correcting_batch), response.status_code)
            already = True
        else:
            challenge = expect_ok(response)
    if as_json:
        print_json(challenge)
    else:
        print_text(f"{described(challenge)}{' already' if already else ''}")
    if why := dropped_note(note, challenge):
        warn(why)


def _note_as_kept(note: str | None) -> str | None:
    """A note as the service keeps it: its lines ended with LF (a note read from a Windows file has CR LF, as a
    browser sends the portal's), its surrounding spaces trimmed, and one of nothing a reader sees as none."""
    if note is None or not has_visible_text(note):
        return None
    return note.replace("\r\n", "\n").replace("\r", "\n").strip()


def _same_batch(given: str, kept: Any) -> bool:
    return kept is not None and uuid.UUID(given) == uuid.UUID(str(kept))


def resolved_as_asked(
    challenge: dict[str, Any], resolution: AoResolution, correcting_batch: str | None, note: str | None
) -> bool:
    """Whether the resolved challenge is resolved as this resolve asks: the same resolution, and the same correcting
    batch and note where given. An erased learner's note is not kept, so not compared (`dropped_note` says so)."""
    if challenge.get("resolution") != resolution.value:
        return False
    if correcting_batch is not None and not _same_batch(correcting_batch, challenge.get("correcting_batch_id")):
        return False
    if note is None or challenge.get("personal_data_erased"):
        return True
    # line ends aside, as the portal compares them: a note kept before the service ended its lines with LF may hold
    # CR LF, and one given here may too
    return _note_as_kept(challenge.get("note")) == _note_as_kept(note)


NOTE_QUOTED = 100
"""The most characters of the note kept that a refusal quotes (a note is up to 2,000)."""


def resolved_otherwise(challenge: dict[str, Any], asked: AoResolution, correcting_batch: str | None) -> str:
    """The refusal of a resolve of a challenge resolved already, not as asked (a resolution is final): how it was
    resolved (as what, by whom, when, the correcting batch, the note), and what was asked that differs."""
    resolved = str(challenge.get("resolution") or "")
    how = f"{resolved} ({resolution_label(resolved)})" if resolved else "resolved"
    if challenge.get("resolved_by"):
        how += f" by {challenge['resolved_by']}"
    if challenge.get("resolved_at"):
        how += f" on {uk_time(challenge['resolved_at'])}"
    if challenge.get("correcting_batch_id"):
        how += f", correcting batch {challenge['correcting_batch_id']}"
    if kept := challenge.get("note"):
        shown = shown_on_one_line(kept)
        how += f', with the note "{shown[:NOTE_QUOTED]}{"…" if len(shown) > NOTE_QUOTED else ""}"'
    differs = f"as {asked.value}"
    if (
        resolved == asked.value
        and correcting_batch
        and not _same_batch(correcting_batch, challenge.get("correcting_batch_id"))
    ):
        differs += f" with correcting batch {correcting_batch}"
    elif resolved == asked.value:
        differs += " with another note"
    return (
        f"challenge {challenge['challenge_id']} is resolved already: {how}. It was not resolved again {differs}:"
        " a resolution is final, so nothing changed"
    )


CONTACT_FIELDS = ("given_name", "family_name", "telephone", "email")


def contact_text(contact: dict[str, Any]) -> str:
    return (
        f"challenges against {contact['ao_id']}'s achievements are emailed to {contact['email']}:"
        f" {contact['given_name']} {contact['family_name']}, telephone {contact['telephone']}"
        f" (set {uk_time(contact['updated_at'])})"
    )


def challenge_contact(connection: Connection, ao_id: str, new: dict[str, str | None]) -> dict[str, Any]:
    """The AO's challenge contact, first set to `new` when it holds every field (none: only read)."""
    if connection.sandpit:
        # The Sandpit runs no challenges (decision 0060): its notifier would keep a contact nothing ever emails.
        raise CommandError("the Sandpit has no challenges service, so no challenge contact: it is live only")
    given = {name: value for name, value in new.items() if value is not None}
    if given and len(given) < len(CONTACT_FIELDS):
        missing = ", ".join(f"--{name.replace('_', '-')}" for name in CONTACT_FIELDS if name not in given)
        raise UsageError(f"a contact is set whole: give {missing} too")
    with connection.client("notifier") as client:
        path = f"/v1/ao/{ao_id}/challenge-contact"
        response = client.put(path, json=given) if given else client.get(path)
    # Another AO's contact is refused (403) whether or not it is set: a 404 is the caller's own AO, or an operator's.
    if response.status_code == 404 and not given:
        raise CommandError(
            f"{ao_id} has no challenge contact: challenges against its achievements wait, emailed to nobody until"
            " one is set. Set one with --given-name, --family-name, --telephone and --email"
        )
    contact: dict[str, Any] = expect_ok(response)
    return contact


@app.command("contact")
def contact_command(
    ctx: typer.Context,
    ao: Annotated[
        str, typer.Argument(help="The AO's recognition number, like RN9093 (an AO: its own).", callback=ao_id_value)
    ],
    given_name: Annotated[str | None, typer.Option(help="The contact's given name.")] = None,
    family_name: Annotated[str | None, typer.Option(help="The contact's family name.")] = None,
    telephone: Annotated[str | None, typer.Option(help="A telephone number, like 01632 960 000.")] = None,
    email: Annotated[str | None, typer.Option(help="Where challenges are emailed.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Who at the AO is emailed when a learner challenges one of its achievements; set it with all four options
    (the AO itself, or an operator with the support duty). Exit 1 when the AO has none."""
    new = {"given_name": given_name, "family_name": family_name, "telephone": telephone, "email": email}
    contact = challenge_contact(connection(ctx), ao, new)
    if as_json:
        print_json(contact)
    else:
        print_text(contact_text(contact))


def waiting_for_contacts(connection: Connection) -> list[dict[str, Any]]:
    """The AOs whose challenge emails wait for a challenge contact, the longest waiting first (operators)."""
    if connection.sandpit:
        raise CommandError("the Sandpit has no challenges service, so no challenge contact: it is live only")
    with connection.client("notifier") as client:
        waiting: list[dict[str, Any]] = expect_ok(client.get("/v1/challenge-contacts/missing"))
    return waiting


NO_CONTACT = "no challenge contact: ask the AO to set one"
CONTACT_REFUSED = "its contact's mailbox refused them: ask the AO for another address"


def waiting_rows(waiting: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Each AO, how many of its challenge emails wait, since when (UK time, to the minute), and why: it has no
    contact, or it has one whose mailbox refused them for good (a notifier older than that column says no contact)."""
    return [
        (
            held["ao_id"],
            f"{held['notices']:,}",
            uk_time(held["waiting_since"], labelled=False),
            CONTACT_REFUSED if held.get("contact_refused") else NO_CONTACT,
        )
        for held in waiting
    ]


@app.command("waiting")
def waiting_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """AOs with challenge emails held (operators with the support duty): the AO has no challenge contact, or its
    contact's mailbox refused them for good. Each is sent once the AO sets one, or another address
    (`lrs challenges contact`)."""
    waiting = waiting_for_contacts(connection(ctx))
    if as_json:
        print_json(waiting)
        return
    if not waiting:
        print_text("no challenge email waits for a contact: every AO challenged has one whose mailbox takes them")
        return
    listing = table("AO", "challenge emails waiting", f"since ({UK_TIME})", "why")
    for row in waiting_rows(waiting):
        listing.add_row(*row)
    stdout().print(listing)
    print_text(
        "The AO sets its contact, or another address, with `lrs challenges contact AO --given-name …"
        " --family-name … --telephone … --email …`; the emails go then."
    )
