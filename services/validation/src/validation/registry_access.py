"""Who may change the learner registry, which ULNs it takes, and what a second registration of a ULN
means. Pure, no I/O.

A provider is *linked* to a learner when it registered the learner or an operator linked it
(docs/decisions/0032-learner-registry-authorization.md). Registration details are never replaced
through the registration endpoint: operators correct them with an import. A ULN whose check digit is
wrong is no learner's: it is neither registered nor erased (decision 0132).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime
from enum import StrEnum

from lrs_contracts.identifiers import UKPRN_PATTERN
from lrs_contracts.learner import AbilityToShare
from lrs_domain.names import comparable_name
from lrs_domain.reference import Learner
from lrs_domain.rules import why_no_learner_has
from lrs_platform.identity import Principal, PrincipalKind


class RegistrationOutcome(StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


def _provider_by_ukprn(principal: Principal) -> bool:
    """A provider's key names its UKPRN; one issued before keys were checked (decision 0121) may name
    something else, and reaches no learner: its old links are not the links the projector knows."""
    return principal.kind is PrincipalKind.PROVIDER and re.fullmatch(UKPRN_PATTERN, principal.id) is not None


def may_register(principal: Principal) -> bool:
    """Operators, and providers by a UKPRN (the link a registration makes names it)."""
    return principal.kind is PrincipalKind.OPERATOR or _provider_by_ukprn(principal)


def may_change_sharing(principal: Principal, ulns: Collection[str], linked_providers: Collection[str]) -> bool:
    """The learner themself (by any of their ULNs: a merged learner is one person), a provider linked to
    any of them by its UKPRN, or an operator (the support desk acting for the learner: decisions 0032, 0164)."""
    if principal.kind is PrincipalKind.OPERATOR:
        return True
    if principal.kind is PrincipalKind.LEARNER:
        return principal.id in ulns
    return _provider_by_ukprn(principal) and principal.id in linked_providers


def may_see_link(viewer: Principal, provider_ukprn: str) -> bool:
    """Whether `viewer`, who may see the learner's sharing, is told of this provider's link to them: the learner and
    operators of every link; a provider of its own only (it learns no other provider's UKPRN, as in the sharing
    history)."""
    return viewer.kind is not PrincipalKind.PROVIDER or viewer.id == provider_ukprn


def sharing_after_import(held: int, held_in_file: int | None, in_file: int) -> int:
    """The ability to share a learner file leaves a registered learner with (decision 0180). The file is the
    register's word: a centre flags an opt-out in the learner's ULN record. Its choice applies when it differs from
    what the file said last time (`held_in_file`; None when no file named the learner yet), so the same file again
    leaves a choice made since (the learner's, a linked provider's, an operator's) as it is; and it never removes an
    opt-out, which only someone acting for the learner does, through the sharing route: the learner, a linked
    provider (FAQ §1) or an operator at the support desk (decisions 0032, 0164), each recorded as who did it (0166).
    One exception, decided apart: a "shares" choice only a provider whose registration link the same file ends ever
    made is the file's to replace (`only_the_registrations_choice`, decision 0121's note of 2026-12-06); an opt-out,
    that provider's too, stays."""
    if in_file == held_in_file or held == AbilityToShare.UNABLE_TO_SHARE:
        return held
    return in_file


def only_the_registrations_choice(
    provider_ukprn: str, changed_by: Iterable[str], registered_at: datetime, recorded_since: datetime | None
) -> bool:
    """Whether a learner's ability to share, under a ULN `provider_ukprn` registered at `registered_at`, is a choice
    that provider alone made: every change recorded under the ULN (`changed_by`, perhaps none: the registration's
    own value stands) is that provider's. Only where every change since the registration was recorded (the
    registration came after `recorded_since`, when sharing changes began to be kept: validation migration 0122;
    None, not known) — an opt-out the learner or an operator made before that is not known, and is never undone.

    Such a choice, unless it is an opt-out (`provider_made_a_choice`), is set aside when the provider's registration
    link ends because the ULN is another learner's (decision 0121, later note of 2026-12-06): the provider made it
    for whoever it registered, and a learner file or the merge's master says what the ULN's learner chose."""
    if recorded_since is None or registered_at < recorded_since:
        return False
    return all(by == f"provider:{provider_ukprn}" for by in changed_by)


def provider_made_a_choice(registered_with: int | None, changed_since: bool) -> bool:
    """Whether the provider whose registration alone set a learner's ability to share (`only_the_registrations_choice`)
    made a choice to set aside: it changed it since, or registered the learner with a choice (1, held now as
    `registered_with`: the ability held under the ULN before the file or merge; None, not known). A registration that
    said nothing (0, the notice not seen) chose nothing: a learner file's value replaces it as any other's, and a
    merge's master's applies. An opt-out (2) is never set aside, whoever made it: it denies sharing, which the learner
    or an operator can lift, and a file never removes one (FAQ §1, decision 0180); it stays, and a merge keeps it
    at the master as any opt-out (decision 0164)."""
    if registered_with == AbilityToShare.UNABLE_TO_SHARE:
        return False
    return changed_since or registered_with not in (None, AbilityToShare.NOT_SEEN)


_SET_ASIDE = ": the choice of provider {ukprn}, whose registration named another learner, set aside"
_SET_ASIDE_AT_END = re.compile(
    r": the choice of provider ([0-9]{8}), whose registration named another learner, set aside$"
)


def choice_set_aside_by(by: str, provider_ukprn: str) -> str:
    """Who a change of sharing that sets aside a choice only `provider_ukprn` made (`only_the_registrations_choice`)
    is recorded as: `by` (the operator's learner file, or the operator's merge), and why."""
    return by + _SET_ASIDE.format(ukprn=provider_ukprn)


_CHANGED_BY_KIND = {
    PrincipalKind.LEARNER.value: "the learner",
    PrincipalKind.PROVIDER.value: "a learning provider linked to the learner",
    PrincipalKind.OPERATOR.value: "an LRS operator",
}


def who_changed_sharing(changed_by: str, viewer: Principal, linked_providers: Collection[str] | None = None) -> str:
    """Who made a change of a learner's sharing, as `viewer` is told: an operator reads the principal; the learner
    and their providers read "you", or who it was by kind (a provider learns no other provider's UKPRN, nobody an
    operator's name), except that the learner reads which of their linked providers it was (they read every linked
    provider's UKPRN already, and a provider that lifts their opt-out answers for it, decision 0166) and, given the
    providers linked to them now (`linked_providers`), that one is no longer linked; a merge that kept an opt-out
    (decision 0164) is said so, and a change that set aside a choice only a provider whose registration named
    another learner made (`choice_set_aside_by`, decision 0121) says that too."""
    if viewer.is_operator:
        return changed_by
    if changed_by == str(viewer):
        return "you"
    if set_aside := _SET_ASIDE_AT_END.search(changed_by):
        by = _CHANGED_BY_KIND.get(changed_by[: set_aside.start()].partition(":")[0], "the merge of the learner's ULNs")
        ukprn = set_aside.group(1)
        if viewer.kind is PrincipalKind.LEARNER:
            whose = f"learning provider {ukprn}, whose registration of your ULN"
        elif viewer.kind is PrincipalKind.PROVIDER and viewer.id == ukprn:
            whose = "your organisation, whose registration of the ULN"
        else:
            whose = "a learning provider whose registration of the ULN"
        return f"{by}, setting aside a choice made only by {whose} named someone else"
    kind, _, ukprn = changed_by.partition(":")
    if viewer.kind is PrincipalKind.LEARNER and kind == PrincipalKind.PROVIDER.value:
        if linked_providers is not None and ukprn not in linked_providers:
            return f"learning provider {ukprn}, no longer linked to you"
        return f"learning provider {ukprn}, linked to you"
    return _CHANGED_BY_KIND.get(kind, "the merge of the learner's ULNs (an opt-out kept)")


def checked_uln(uln: str) -> str:
    """The ULN, if a learner can have it; a ValueError saying why not (`why_no_learner_has`, which never quotes
    it) otherwise. Registered, a ULN whose check digit is wrong would verify no batch record (each is RV002);
    erased, it would be locked away for good while the learner meant stayed as they were."""
    if refusal := why_no_learner_has(uln):
        raise ValueError(refusal.reason)
    return uln


def registration_outcome(registered: Learner | None, requested: Learner) -> RegistrationOutcome:
    """A ULN registered again with the same details changes nothing; with other details it is refused.

    Details are what RV004 verifies against (names, compared trimmed, caseless and in any Unicode form, and date
    of birth) plus gender (`same_details`, as a learner file's import compares them). Ability to share is not a
    detail: it changes only through the sharing route.
    """
    if registered is None:
        return RegistrationOutcome.NEW
    return RegistrationOutcome.UNCHANGED if same_details(registered, requested) else RegistrationOutcome.CONFLICT


def _same_name(registered: str, requested: str) -> bool:
    return registered == requested or comparable_name(registered) == comparable_name(requested)


def same_details(registered: Learner, requested: Learner) -> bool:
    """Whether `requested` gives the details `registered` holds, as the registry compares them, at either door (a
    registration, `registration_outcome`; a learner file's import, which replaces only details that differ so): the
    names in their canonical caseless form (`comparable_name`, decision 0167: the same name in another case or
    Unicode form is the same name, and the spelling stored first stays), the date of birth and the gender as they
    are. Ability to share is not a detail; the MasterULN neither (a merge is apart). The names compare byte for byte
    first: a file whose names are as registered pays nothing more."""
    return (
        registered.date_of_birth == requested.date_of_birth
        and registered.gender == requested.gender
        and _same_name(registered.given_name, requested.given_name)
        and _same_name(registered.family_name, requested.family_name)
    )
