"""Portal accounts: who a person is, what they may do, and when repeated failures lock them out.

Pure: no I/O. AO staff and operators are people with passwords, not API keys; each account maps to
the principal the services know (`ao:<id>` or `operator:<username>`), and the portal calls the
services only with a key of that principal (docs/decisions/0040-portal.md). An operator's account may
be limited to duties (decision 0124): the scopes of operator keys (decision 0122), carried by the key
each of its sessions gets, so the services enforce them as for any key.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import Address
from enum import StrEnum

from lrs_contracts import identifiers
from lrs_contracts.text import refused_character
from lrs_domain.formats import is_plausible_email
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, parse_scopes

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
AO_ID_PATTERN = re.compile(identifiers.AO_ID_PATTERN)
MIN_PASSWORD_LENGTH = 12
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Role(StrEnum):
    AO = "ao"
    OPERATOR = "operator"


class AccountChange(StrEnum):
    """What the portal's audit of account administration records (decision 0126)."""

    CREATED = "created"
    DISABLED = "disabled"
    ENABLED = "enabled"  # a disabled account enabled again, its password as it was
    PASSWORD_RESET = "password_reset"  # noqa: S105 (the name of a change, not a password)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (by the person themself)
    EMAIL_CHANGED = "email_changed"  # where forgotten-password links go (0128)
    RESET_LINK_REQUESTED = "reset_link_requested"  # a link sent by email for a forgotten password (0128)
    PASSWORD_RESET_BY_LINK = "password_reset_by_link"  # noqa: S105 (by the person, through that link)
    FIRST_PASSWORD_LINK_SENT = "first_password_link_sent"  # noqa: S105 (a new account's, by email: 0129)
    PASSWORD_LINK_SENT = "password_link_sent"  # noqa: S105 (an operator's, to an existing account: 0129)
    DUTIES_CHANGED = "duties_changed"
    AO_KEY_ISSUED = "ao_key_issued"
    AO_KEY_REVOKED = "ao_key_revoked"


@dataclass(frozen=True)
class ChangeRecord:
    change_id: int
    changed_at: datetime
    changed_by: str  # who: a principal (operator:<username>), or a person changing their own password
    subject: str  # an account's username, or an AO key's principal
    change: AccountChange
    detail: str


def duties_text(scopes: Collection[str]) -> str:
    """An operator's duties as the audit and the pages say them."""
    return ", ".join(sorted(scopes)) if scopes else "every duty"


def described(account: Account) -> str:
    """What an account is, for the audit of its creation (with its email address, where reset links go)."""
    if account.ao_id is not None:
        what = f"AO user of {account.ao_id}"
    else:
        what = f"operator with {'every duty' if not account.scopes else 'duties ' + duties_text(account.scopes)}"
    return f"{what}, email {account.email}" if account.email else what


def address_change(previous: str | None, email: str | None) -> str:
    """An email address change as the audit says it."""
    return f"from {previous or 'none'} to {email or 'none'}"


@dataclass(frozen=True)
class AddressChange:
    """An account's email address changed: the account as it is now, the address it had, and whether it
    was an operator who changed it (or the person)."""

    account: Account
    previous: str | None
    by_operator: bool

    @property
    def changed(self) -> bool:
        return self.previous != self.account.email


@dataclass(frozen=True)
class AccountListing:
    """Which accounts a list shows: of one AO, of one role, whose username starts so; a page of `limit`
    after the username `after`."""

    ao_id: str | None = None
    role: Role | None = None
    starting: str | None = None
    after: str | None = None
    limit: int = 500


class InvalidAccount(ValueError):
    """The account details break a rule; the message says which, in words for the person, and `field`
    names the detail it is about."""

    def __init__(self, message: str, field: str = "username") -> None:
        super().__init__(message)
        self.field = field


class NotInRegister(InvalidAccount):
    """An AO recognition number that names no awarding organisation in the register: an account or key for
    it would reach nothing (its batches would all be refused)."""

    def __init__(self, ao_id: str) -> None:
        super().__init__(f"{ao_id} is not an awarding organisation in the register: check the number.", "ao_id")
        self.ao_id = ao_id


@dataclass(frozen=True)
class SignInState:
    failed_attempts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: Role
    ao_id: str | None
    email: str | None = None
    sign_in: SignInState = SignInState()
    disabled_at: datetime | None = None
    scopes: frozenset[str] = frozenset()  # an operator's duties; none listed: every duty
    password_given: bool = False  # an operator was shown it (a new account's, a reset's): to be changed
    # when its password was last set (by anyone): a confirmation of "Reset password" carries it, and a reset whose
    # confirmation found another is refused (`PasswordChangedMeanwhile`); not part of what the account is
    password_set_at: datetime | None = field(default=None, compare=False)

    @property
    def who(self) -> str:
        """The person, as the audit of account changes names whoever made a change."""
        return f"operator:{self.username}" if self.is_operator else f"{self.username} (ao:{self.ao_id})"

    @property
    def principal(self) -> Principal:
        if self.role is Role.AO:
            assert self.ao_id is not None
            return Principal(PrincipalKind.AO, self.ao_id)
        return Principal(PrincipalKind.OPERATOR, self.username, self.scopes)

    def has_duty(self, *duties: OperatorScope) -> bool:
        """Whether this is an operator who may do one of `duties`."""
        return self.is_operator and (not self.scopes or not self.scopes.isdisjoint(duties))

    @property
    def has_every_duty(self) -> bool:
        """An operator without listed duties: who alone hands out operator power (creates operator
        accounts, resets their passwords, changes their duties)."""
        return self.is_operator and not self.scopes

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


class PasswordChangedMeanwhile(Exception):
    """An operator's reset of a password that was set again after its confirmation was shown (another operator's
    reset at once, the owner's change, an emailed link used): no new password is set, as the one set meanwhile
    is the one its person was given or chose. `change`, `by` and `at`: that setting, from the audit."""

    def __init__(self, username: str, change: AccountChange | None, by: str, at: datetime | None) -> None:
        super().__init__(f"the password of {username} was set meanwhile")
        self.username = username
        self.change = change
        self.by = by
        self.at = at


class LastOperatorWithPower(Exception):
    """The change would leave no enabled operator with a power that nobody could then give back in the portal:
    the accounts duty (decision 0140), or every duty (decision 0147)."""


class LastAccountsOperator(LastOperatorWithPower):
    """No enabled operator with the accounts duty would be left: nobody could manage accounts and keys in the
    portal any more, nor enable an operator again."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username} is the last enabled operator with the accounts duty: give another operator that duty first"
        )
        self.username = username


class LastEveryDutyOperator(LastOperatorWithPower):
    """No enabled operator with every duty would be left: nobody could create an operator account, reset an
    operator's password, change an operator's duties or enable an operator again in the portal."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username} is the last enabled operator with every duty: give another operator every duty first"
        )
        self.username = username


def manages_accounts(account: Account) -> bool:
    """An enabled operator with the accounts duty."""
    return account.disabled_at is None and account.has_duty(OperatorScope.ACCOUNTS)


def hands_out_operator_power(account: Account) -> bool:
    """An enabled operator with every duty."""
    return account.disabled_at is None and account.has_every_duty


_GUARDED_POWERS: tuple[tuple[Callable[[Account], bool], type[LastOperatorWithPower]], ...] = (
    (hands_out_operator_power, LastEveryDutyOperator),
    (manages_accounts, LastAccountsOperator),
)


def check_operator_power_stays(before: Account, after: Account, others: Collection[Account]) -> None:
    """Refuses a change of one account, `before` to `after`, that takes away the last enabled operator with every
    duty (LastEveryDutyOperator), or with the accounts duty (LastAccountsOperator); `others` are the other
    accounts. A power that no enabled operator holds already (a fresh system) is not guarded."""
    for holds, last_one in _GUARDED_POWERS:
        if holds(before) and not holds(after) and not any(map(holds, others)):
            raise last_one(before.username)


def operators_kept(operators: Collection[Account]) -> dict[str, LastOperatorWithPower]:
    """The last enabled operator with every duty, and the last with the accounts duty, among `operators` (every
    enabled operator, at least), by username: the refusal `check_operator_power_stays` gives disabling them, so
    that a page does not offer it (decision 0153). The last with every duty cannot have their duties narrowed
    either; the last with the accounts duty only not without it."""
    kept: dict[str, LastOperatorWithPower] = {}
    for holds, last_one in _GUARDED_POWERS:
        holders = [account.username for account in operators if holds(account)]
        if len(holders) == 1:
            kept.setdefault(holders[0], last_one(holders[0]))
    return kept


def username_from(typed: str) -> str | None:
    """The username `typed` names (any case, spaces around it), or None when no account can have it."""
    username = typed.strip().lower()
    return username if USERNAME_PATTERN.fullmatch(username) else None


def checked_duties(role: Role, names: Collection[str]) -> frozenset[str]:
    """The duties `names` spell, for an account of `role`: operators only, known ones only."""
    if names and role is not Role.OPERATOR:
        raise InvalidAccount("Only operators have duties.", "scopes")
    try:
        return parse_scopes(names)
    except ValueError as error:
        raise InvalidAccount(str(error), "scopes") from error


def new_account(
    username: str,
    display_name: str,
    role: Role,
    ao_id: str | None,
    email: str | None,
    scopes: Collection[str] = (),
) -> Account:
    """The account the details make; InvalidAccount for the first rule they break (`account_errors`: every one)."""
    checked_username = _checked_username(username)
    checked_name = _checked_display_name(display_name)
    checked_ao_id = _checked_ao_id(role, ao_id)
    duties = checked_duties(role, scopes)
    return Account(checked_username, checked_name, role, checked_ao_id, checked_email(email), scopes=duties)


def account_errors(
    username: str,
    display_name: str,
    role: Role | None,
    ao_id: str | None,
    email: str | None,
    scopes: Collection[str] = (),
) -> dict[str, str]:
    """Every rule the details of a new account break, by the field each is about (its first): what a form shows
    at once, rather than one error a submission. `role` None: not known, so neither its AO nor its duties are
    judged."""
    checks: list[Callable[[], object]] = [
        lambda: _checked_username(username),
        lambda: _checked_display_name(display_name),
    ]
    if role is not None:
        checks += [lambda: _checked_ao_id(role, ao_id), lambda: checked_duties(role, scopes)]
    checks.append(lambda: checked_email(email))
    errors: dict[str, str] = {}
    for check in checks:
        try:
            check()
        except InvalidAccount as error:
            errors.setdefault(error.field, str(error))
    return errors


def _checked_username(username: str) -> str:
    checked = username_from(username)
    if checked is None:
        raise InvalidAccount("A username is 2 to 64 lower-case letters, digits, dots, dashes, underscores or @.")
    return checked


def _checked_display_name(display_name: str) -> str:
    if not display_name.strip():
        raise InvalidAccount("Enter the person's name.", "display_name")
    if refused := refused_character(display_name, one_line=True):
        raise InvalidAccount(f"The name holds {refused}: type it again.", "display_name")
    return display_name.strip()


def _checked_ao_id(role: Role, ao_id: str | None) -> str | None:
    ao_id = ao_id.strip().upper() or None if ao_id else None  # rn9037 is RN9037, as the register writes it
    if role is Role.AO and (ao_id is None or not AO_ID_PATTERN.fullmatch(ao_id)):
        raise InvalidAccount("An AO user needs the AO's recognition number, like RN9037.", "ao_id")
    if role is Role.OPERATOR and ao_id is not None:
        raise InvalidAccount("An operator belongs to no AO.", "ao_id")
    return ao_id


def checked_email(email: str | None) -> str | None:
    """An account's email address as given (None or blank: none). Forgotten-password links go there."""
    address = (email or "").strip()
    if not address:
        return None
    if refused := refused_character(address, one_line=True):
        raise InvalidAccount(f"The email address holds {refused}: type it again.", "email")
    if not is_plausible_email(address) or one_address(address) is None:
        raise InvalidAccount("Enter an email address in the correct format, like name@example.org", "email")
    return address


def one_address(text: str) -> Address | None:
    """`text` as exactly one mailbox, or None: a list ("a@x.org, b@y.org") would send mail to each, and a
    character that shows nothing (a zero-width space) would make it look like another."""
    if any(unicodedata.category(character)[0] in "CZ" for character in text):
        return None
    try:
        address = Address(addr_spec=text)
    except NonASCIILocalPartDefect:  # `siân@ao.example`: mailed with SMTPUTF8, as a batch's address is (0159)
        if not is_plausible_email(text):
            return None
        local_part, _, domain = text.partition("@")
        address = Address(username=local_part, domain=domain)
    except (ValueError, IndexError, HeaderParseError):
        return None
    return address if address.addr_spec == text else None


# The words leaked passwords most often are, give or take digits and marks around them: among the first guesses
# of any attack, whatever their length (the NCSC's advice: refuse the commonly used).
_COMMON_WORDS = frozenset(
    {
        "password", "passw0rd", "p@ssword", "qwerty", "qwertyuiop", "letmein", "welcome", "iloveyou", "admin",
        "administrator", "abc", "abcdef", "monkey", "dragon", "football", "baseball", "sunshine", "princess",
        "trustno1", "login", "master", "changeme", "secret", "default", "p@ssw0rd", "pa$$word", "pa$$w0rd",
        # the season or month it is, with the year around it ("Summer2026!!"), and this service's own names
        "spring", "summer", "autumn", "fall", "winter", "january", "february", "march", "april", "may", "june", "july",
        "august", "september", "october", "november", "december", "lrs", "portal", "lrsportal", "learningrecords",
        "learningrecordsservice", "organisationportal",
    }
)  # fmt: skip
_AROUND_WORDS = string.digits + string.punctuation + " "


def _guessable(password: str) -> bool:
    """Only digits and marks, or around them a common word, a character or two repeated, or a run of the alphabet
    ("abcdefghijkl")."""
    core = password.lower().strip(_AROUND_WORDS)
    in_a_row = len(core) >= 3 and (core in string.ascii_lowercase or core[::-1] in string.ascii_lowercase)
    return core in _COMMON_WORDS or len(set(core)) <= 2 or in_a_row


def _letters(text: str) -> str:
    return "".join(character for character in _folded(text) if character.isalpha())


def _words(text: str, shortest: int) -> list[str]:
    """The runs of letters in `text` (casefolded) of `shortest` letters or more: "victim.lock" → victim, lock."""
    return [word for word in re.split(r"[^\w]|[\d_]", _folded(text)) if len(word) >= shortest]


def _folded(text: str) -> str:
    """`text` in any case, its letters composed ("Siân" typed as "a" and a combining accent is "siân")."""
    return unicodedata.normalize("NFKC", text).casefold()


# A part of someone's words this short is matched as a whole word of the password only: "amy" is not in "spam
# yogurt", "ian" not in "giant", "ops" not in "stops", "ocr" not in "democracy". A longer part is matched inside a word.
_SHORTEST_INSIDE_A_WORD = 4


def _holds(words: list[str], part: str) -> bool:
    """A word of the password (`words`, its runs of letters) is `part`, or holds it when it is long enough to be
    matched inside a word. Never across two words: "spam yogurt" does not hold "amy"."""
    return any(word == part or (len(part) >= _SHORTEST_INSIDE_A_WORD and part in word) for word in words)


@dataclass(frozen=True)
class PasswordOwner:
    """Whose new password it is, for the words it must not hold (`check_new_password`): their username and name,
    and for an AO user their AO's recognition number and, when the register has it, name."""

    username: str
    name: str
    ao_id: str | None = None
    ao_name: str | None = None

    @classmethod
    def of(cls, account: Account, ao_name: str | None = None) -> PasswordOwner:
        return cls(account.username, account.display_name, account.ao_id, ao_name if account.ao_id else None)

    def is_in(self, password: str) -> bool:
        """Matched word by word (the password's runs of letters, any case, marks and digits left out):

        - a word is, or holds, the username's or the name's letters ("amylee123", "myaodemo"), or a part of either
          of four letters or more ("padlock", "Siân-Jones!"), or is a part of three letters ("Amy's", but not "spam
          yogurt", "giant" for Ian or "stops" for ops2);
        - the password holds the AO's number ("rn9037");
        - its letters are the AO's name, or a word of it or a few in a row ("Pearson2026!", "CityAndGuilds1"), or it
          holds the whole name as words of its own ("Pearson Education Ltd rocks"; "OCR" only as a word: "photo
          crane" and "democracy" are taken). A word of a longer name among others is taken ("Pearson horse").
        """
        words = _words(password, 1)
        if any(_holds(words, part) for part in self._own_parts()):
            return True
        if self.ao_id and self.ao_id.casefold() in password.casefold():
            return True
        return bool(self.ao_name) and self._holds_ao_name(_letters(password), words)

    def _own_parts(self) -> set[str]:
        """The username's and the name's parts of three letters or more ("ao", "b": too short to be anyone's own),
        and with them all the letters of each run together ("amylee", "kimb")."""
        parts: set[str] = set()
        for text in (self.username, self.name):
            if long_enough := _words(text, 3):
                parts.update((*long_enough, _letters(text)))
        return parts

    def _holds_ao_name(self, letters: str, words: list[str]) -> bool:
        named = _words(self.ao_name or "", 1)
        forms = (named, [word for word in named if word not in _JOINING_WORDS])  # "City & Guilds"
        runs = {
            "".join(form[start:end])
            for form in forms
            for start in range(len(form))
            for end in range(start + 1, len(form) + 1)
        }
        if letters in {run for run in runs if len(run) >= 3}:  # the name, or words of it, as the whole password
            return True
        wholes = {"".join(form) for form in forms if form}
        if any(_holds(words, whole) for whole in wholes):  # "ocr" as a word, "pearsoneducationltd" inside one
            return True
        # a name of several words, written as words of the password among others: "City and Guilds of London Institute 1"
        return len(named) > 1 and any(_in_words_in_a_row(words, whole) for whole in wholes)


def _in_words_in_a_row(words: list[str], whole: str) -> bool:
    """Words of the password, one after the other, are `whole` run together ("pearson", "education", "ltd")."""
    spelt = r"(?<!\S)" + " ?".join(map(re.escape, whole)) + r"(?!\S)"  # from the start of a word to the end of one
    return re.search(spelt, " ".join(words)) is not None


# Left out of an AO's name as people shorten it: "City and Guilds" is "City & Guilds".
_JOINING_WORDS = frozenset({"and", "of", "the", "for", "in"})


def check_new_password(password: str, *, is_current: bool = False, owner: PasswordOwner | None = None) -> None:
    """The rules a new password follows: long enough, not among the first an attacker tries, no control
    character (tab, line break, ...), not the one the person has now (`is_current`) and, when it is chosen by
    `owner` (not generated), holding none of their own words: their username, their name, their AO's."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"A password has at least {MIN_PASSWORD_LENGTH} characters", "password")
    if refused := refused_character(password, one_line=True, one_line_is="a password"):
        raise InvalidAccount(f"A password cannot hold {refused}", "password")
    if control := CONTROL_CHARACTER.search(password):
        raise InvalidAccount(f"A password cannot hold the control character U+{ord(control.group()):04X}", "password")
    if is_current:
        raise InvalidAccount("Choose a password other than the one you have now", "password")
    if _guessable(password):
        raise InvalidAccount(
            "That password is among the first an attacker tries (a common word, or only digits): a few unrelated"
            " words make a good one",
            "password",
        )
    if owner is not None and owner.is_in(password):
        whose = (
            "your username or name, or your organisation's name or number" if owner.ao_id else "your username or name"
        )
        raise InvalidAccount(f"A password must not contain {whose}: a few unrelated words make a good one", "password")


class PasswordChange(StrEnum):
    """What became of a change the person confirmed with their password: of the password itself, or of
    their email address."""

    CHANGED = "changed"
    WRONG_PASSWORD = "wrong_password"  # the current password given is not the account's  # noqa: S105
    LOCKED = "locked"  # too many wrong current passwords, as for signing in
    CHANGED_MEANWHILE = "changed_meanwhile"  # an operator reset it, or another change came first
    CHANGED_ALREADY = "changed_already"  # the form sent twice: the first request made this very change


@dataclass(frozen=True)
class PasswordByLink:
    """What a password chosen through a link came to: the account (None when the link does not work) and whether
    the link had already set this very password (the form sent twice: the person was told of it once)."""

    account: Account | None
    repeated: bool = False


@dataclass(frozen=True)
class LockoutPolicy:
    """After `failures` consecutive failed sign-ins the account is locked for `lock_for`."""

    failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)


def is_locked(state: SignInState, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def after_failure(state: SignInState, now: datetime, policy: LockoutPolicy) -> SignInState:
    """A failure while locked changes nothing (the password is not even checked then); once a lock
    has run out, counting starts again from zero."""
    if is_locked(state, now):
        return state
    attempts = (0 if state.locked_until is not None else state.failed_attempts) + 1
    if attempts >= policy.failures:
        return SignInState(failed_attempts=0, locked_until=now + policy.lock_for)
    return replace(state, failed_attempts=attempts, locked_until=None)


def before_check(account: Account, now: datetime, policy: LockoutPolicy) -> SignInState:
    """The state an attempt leaves before its password is checked: counted as a failure, undone by
    `after_success` if the password is right. Counting first, under the account's lock, is what makes
    attempts sent at once each count, so that no more than `policy.failures` of them are checked before
    the lock. A disabled account's attempts are not counted: they never sign in, whatever the password."""
    if account.disabled_at is not None:
        return account.sign_in
    return after_failure(account.sign_in, now, policy)


def after_success() -> SignInState:
    return SignInState()


class SignInOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    WRONG_CREDENTIALS = "wrong_credentials"  # unknown username, wrong password or disabled account: one answer
    LOCKED = "locked"


def decide_sign_in(account: Account | None, password_matches: bool, now: datetime) -> SignInOutcome:
    if account is None or account.disabled_at is not None:
        return SignInOutcome.WRONG_CREDENTIALS
    if is_locked(account.sign_in, now):
        return SignInOutcome.LOCKED
    return SignInOutcome.SIGNED_IN if password_matches else SignInOutcome.WRONG_CREDENTIALS
