"""`lrs challenges list|ack|resolve`: Event Data Challenges against an AO's achievements."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.text import Text

from lrs_cli.client import Connection, expect_ok
from lrs_cli.output import JsonOption, connection, print_json, print_text, stdout, table, tell_more

app = typer.Typer(help="Event Data Challenges: list, acknowledge, resolve.", no_args_is_help=True)
ChallengeId = Annotated[str, typer.Argument(help="The challenge's id, from `lrs challenges list`.")]


class State(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    CORRECTED = "corrected"
    UPHELD = "upheld"
    REJECTED = "rejected"


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
    return Text(challenge["reason"])


def _described(challenge: dict[str, Any]) -> str:
    text = f"challenge {challenge['challenge_id']}: {challenge['state']}"
    if challenge.get("resolution"):
        text += f" ({challenge['resolution']})"
    return text


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        list[State] | None, typer.Option(help="Only challenges in this state; repeat it for several.")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open challenges (raised or acknowledged).")] = False,
    ao: Annotated[str | None, typer.Option(help="Operators: only this AO's challenges.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    after: Annotated[
        str | None, typer.Option(help="Continue a list: the position the previous page's last line gave.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Challenges against your achievements (a learner: the ones they raised), newest first."""
    states = [*(state or []), *((State.RAISED, State.ACKNOWLEDGED) if open_only else ())]
    page = challenges(connection(ctx), states, ao, limit, after)
    found = page["items"]
    if as_json:
        print_json(found)
    else:
        listing = table("challenge", "raised", "state", "ULN", "achievement", "reason", "resolution")
        for challenge in found:
            listing.add_row(
                challenge["challenge_id"],
                challenge["raised_at"][:10],
                challenge["state"],
                challenge["uln"],
                challenge["achievement_id"],
                reason_text(challenge),
                challenge.get("resolution") or "",
            )
        stdout().print(listing if found else "no challenges")
    tell_more(page["next"])


@app.command("ack")
def acknowledge_command(ctx: typer.Context, challenge_id: ChallengeId, as_json: JsonOption = False) -> None:
    """Acknowledge a challenge (the AO that owns the achievement)."""
    with connection(ctx).client("challenges") as client:
        challenge = expect_ok(client.post(f"/v1/challenges/{challenge_id}/acknowledge"))
    if as_json:
        print_json(challenge)
    else:
        print_text(_described(challenge))


@app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    challenge_id: ChallengeId,
    resolution: Annotated[
        Resolution, typer.Option(help="corrected: the corrected data was sent in a batch; upheld; rejected.")
    ],
    note: Annotated[str | None, typer.Option(help="What was done, for the learner.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a challenge (the AO that owns the achievement); it changes no PLR by itself."""
    body = {"resolution": resolution.value, "note": note}
    with connection(ctx).client("challenges") as client:
        challenge = expect_ok(client.post(f"/v1/challenges/{challenge_id}/resolve", json=body))
    if as_json:
        print_json(challenge)
    else:
        print_text(_described(challenge))
