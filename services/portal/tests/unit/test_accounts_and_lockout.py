"""Accounts, their principals, and the lock-out policy: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lrs_platform.identity import PrincipalKind
from portal.accounts import (
    Account,
    InvalidAccount,
    LockoutPolicy,
    Role,
    SignInOutcome,
    SignInState,
    after_failure,
    after_success,
    before_check,
    check_new_password,
    decide_sign_in,
    is_locked,
    new_account,
    username_from,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy(failures=3, lock_for=timedelta(minutes=15))


def fail(times: int, state: SignInState = SignInState(), at: datetime = NOW) -> SignInState:
    for _ in range(times):
        state = after_failure(state, at, POLICY)
    return state


def test_failures_below_the_threshold_only_count() -> None:
    state = fail(2)
    assert state == SignInState(failed_attempts=2, locked_until=None)
    assert not is_locked(state, NOW)


def test_the_threshold_failure_locks_for_the_policy_period() -> None:
    state = fail(3)
    assert state.locked_until == NOW + timedelta(minutes=15)
    assert is_locked(state, NOW + timedelta(minutes=14, seconds=59))
    assert not is_locked(state, NOW + timedelta(minutes=15))


def test_failures_while_locked_do_not_extend_the_lock() -> None:
    locked = fail(3)
    assert after_failure(locked, NOW + timedelta(minutes=10), POLICY) == locked


def test_counting_starts_again_once_a_lock_has_run_out() -> None:
    later = NOW + timedelta(minutes=16)
    state = after_failure(fail(3), later, POLICY)
    assert state == SignInState(failed_attempts=1, locked_until=None)


def test_a_success_clears_the_count() -> None:
    assert after_success() == SignInState()


def account(**changes: object) -> Account:
    base = Account("a.user", "A User", Role.AO, "RN9093")
    return Account(**{**base.__dict__, **changes})


def test_an_attempt_counts_as_a_failure_before_its_password_is_checked() -> None:
    assert before_check(account(), NOW, POLICY) == SignInState(failed_attempts=1)
    third = before_check(account(sign_in=fail(2)), NOW, POLICY)
    assert is_locked(third, NOW), "the attempt that reaches the threshold locks, whatever its check says"


def test_attempts_at_once_leave_at_most_the_threshold_unlocked() -> None:
    """Each attempt finds the state the one before it left: after `failures` of them the rest find a lock."""
    states = [SignInState()]
    for _ in range(10):
        states.append(before_check(account(sign_in=states[-1]), NOW, POLICY))
    checked = [state for state in states[:-1] if not is_locked(state, NOW)]
    assert len(checked) == POLICY.failures
    assert states[-1] == fail(3), "attempts while locked do not extend the lock"


def test_a_disabled_accounts_attempts_are_not_counted() -> None:
    disabled = account(disabled_at=NOW, sign_in=fail(2))
    assert before_check(disabled, NOW, POLICY) == fail(2)


@pytest.mark.parametrize(
    ("typed", "username"),
    [(" Alex.AO ", "alex.ao"), ("alex@ao.example", "alex@ao.example"), ("alex\n", "alex")],
)
def test_a_typed_username_is_trimmed_and_lower_cased(typed: str, username: str) -> None:
    assert username_from(typed) == username


@pytest.mark.parametrize("typed", ["alex\x00", "al\nex", "a", "alex ao", "alex\u0130", "x" * 65, ""])
def test_no_account_can_have_a_username_outside_the_pattern(typed: str) -> None:
    assert username_from(typed) is None


@pytest.mark.parametrize(
    ("display_name", "email", "field"),
    [("Alex\x00", None, "display_name"), ("Alex\nSmith", None, "display_name"), ("Alex", "a\x01@ao.example", "email")],
)
def test_a_control_character_in_a_name_or_email_is_refused_on_its_field(
    display_name: str, email: str | None, field: str
) -> None:
    with pytest.raises(InvalidAccount) as refused:
        new_account("alex", display_name, Role.AO, "RN9093", email)
    assert refused.value.field == field


def test_unknown_disabled_and_wrong_password_answer_alike() -> None:
    assert decide_sign_in(None, True, NOW) is SignInOutcome.WRONG_CREDENTIALS
    assert decide_sign_in(account(disabled_at=NOW), True, NOW) is SignInOutcome.WRONG_CREDENTIALS
    assert decide_sign_in(account(), False, NOW) is SignInOutcome.WRONG_CREDENTIALS


def test_a_locked_account_is_refused_even_with_the_right_password() -> None:
    locked = account(sign_in=SignInState(0, NOW + timedelta(minutes=1)))
    assert decide_sign_in(locked, True, NOW) is SignInOutcome.LOCKED
    assert decide_sign_in(account(), True, NOW) is SignInOutcome.SIGNED_IN


def test_an_ao_user_is_the_aos_principal_and_an_operator_their_own() -> None:
    ao_user = new_account("Alex.AO", "Alex", Role.AO, "RN9093", None)
    assert ao_user.username == "alex.ao"
    assert (ao_user.principal.kind, ao_user.principal.id) == (PrincipalKind.AO, "RN9093")
    operator = new_account("olu", "Olu", Role.OPERATOR, None, "olu@lrs.example")
    assert str(operator.principal) == "operator:olu"


@pytest.mark.parametrize(
    ("username", "role", "ao_id"),
    [
        ("x", Role.AO, "RN1"),
        ("has space", Role.AO, "RN1"),
        ("ok.name", Role.AO, None),
        ("ok.name", Role.AO, "5133"),
        ("ok.name", Role.OPERATOR, "RN1"),
    ],
)
def test_invalid_accounts_are_refused(username: str, role: Role, ao_id: str | None) -> None:
    with pytest.raises(InvalidAccount):
        new_account(username, "Name", role, ao_id, None)


def test_a_short_password_is_refused() -> None:
    with pytest.raises(InvalidAccount):
        check_new_password("eleven char")
    check_new_password("twelve chars")


@pytest.mark.parametrize(
    "password",
    ["password1234", "Password2026!", "123456789012", "qwertyuiop12", "aaaaaaaaaaaa", "ababababab12", "!!Welcome123"],
)
def test_a_password_among_the_first_an_attacker_tries_is_refused(password: str) -> None:
    with pytest.raises(InvalidAccount, match="among the first an attacker tries"):
        check_new_password(password)


@pytest.mark.parametrize("password", ["correct horse battery staple", "password manager 7 lists", "2026 is a year!"])
def test_a_common_word_among_others_is_a_password(password: str) -> None:
    check_new_password(password)
