"""Each change of a challenge is one log line naming the challenge's id, so a log query on `challenge_id` finds it
(the notifier's lines name it as `correlation_id`): the service logged nothing with the id when a challenge was
raised, acknowledged or resolved, only the request line (sre walk, finding 4). Who acted is said by kind and key id,
never the learner's ULN or words."""

from __future__ import annotations

from services.challenges.tests.unit.test_who_acted_with_which_key import (
    AO_KEY,
    AS_AO,
    AS_LEARNER,
    LEARNER,
    LEARNER_KEY,
    _raised,
    _request,
    _Store,
)
from structlog.testing import capture_logs

from challenges.api import ChallengeResolve, acknowledge_challenge, resolve_challenge, withdraw_challenge
from lrs_contracts.challenge import ChallengeResolution


async def test_acknowledging_and_resolving_are_each_one_line_by_the_challenges_id() -> None:
    store = _Store(_raised())
    challenge_id = store.challenge.challenge_id

    with capture_logs() as logs:
        await acknowledge_challenge(challenge_id, AS_AO, _request(store))
        await resolve_challenge(
            challenge_id,
            ChallengeResolve(resolution=ChallengeResolution.UPHELD, note="Checked against the marked script."),
            AS_AO,
            _request(store),
        )

    said = [(log["event"], log["challenge_id"], log["resolution"], log["caller"], log["key_id"]) for log in logs]
    assert said == [
        ("challenge_acknowledged", str(challenge_id), None, "ao", AO_KEY),
        ("challenge_resolved", str(challenge_id), "upheld", "ao", AO_KEY),
    ]
    assert not any("marked script" in str(log) for log in logs)


async def test_a_withdrawal_is_logged_without_the_learners_uln_or_reason() -> None:
    store = _Store(_raised())

    with capture_logs() as logs:
        await withdraw_challenge(store.challenge.challenge_id, AS_LEARNER, _request(store))

    [line] = logs
    assert (line["event"], line["resolution"], line["caller"], line["key_id"]) == (
        "challenge_resolved",
        "withdrawn",
        "learner",
        LEARNER_KEY,
    )
    assert LEARNER not in str(line) and "wrong grade" not in str(line)
