"""`lrs credentials create|rotate --principal learner:ULN` with a ULN no learner can have (badly formed RV001, a wrong
check digit RV002, the temporary ULN RV003) says so first, in the line every other command says it in (exit 2), before
the database is asked: not "not in the learner registry … pass --allow-unregistered", which --allow-unregistered
would then refuse for another reason. Revoke takes the principal as written, as for an AO."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment

REFUSALS = {
    "1000000042": "lrs: the check digit of ULN 1000000042 is wrong (RV002): a digit was mistyped, no learner has it\n",
    "9999999999": "lrs: ULN 9999999999 is the temporary ULN (RV003): no learner has it, use the learner's own ULN\n",
    "10000042": "lrs: ULN '10000042' is badly formed (RV001): a ULN is 10 digits, the first not 0\n",
}


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> list[Environment]:
    """The key store, which a refused ULN must never reach: each opening recorded."""
    opened: list[Environment] = []

    @contextlib.asynccontextmanager
    async def key_store(environment: Environment) -> AsyncIterator[tuple[object, object]]:
        opened.append(environment)
        raise AssertionError("the database was asked")
        yield None, None  # pragma: no cover

    monkeypatch.setattr(admin_commands, "_key_store", key_store)
    return opened


@pytest.mark.parametrize("uln", sorted(REFUSALS))
@pytest.mark.parametrize("action", ["create", "rotate"])
@pytest.mark.parametrize("allow", [[], ["--allow-unregistered"]], ids=["registered-only", "allow-unregistered"])
def test_a_uln_no_learner_can_have_is_refused_as_every_command_refuses_it(
    uln: str,
    action: str,
    allow: list[str],
    no_database: list[Environment],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["credentials", action, "--principal", f"learner:{uln}", *allow]) == ExitCode.USAGE

    assert capsys.readouterr().err == REFUSALS[uln]
    assert no_database == []


def test_revoke_still_takes_the_principal_as_written(
    no_database: list[Environment], capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.suppress(AssertionError):
        main(["credentials", "revoke", "--principal", "learner:1000000042"])

    assert no_database == [Environment.LIVE]
