"""Operators' pages for learners' personal data: erasing a learner (decision 0080) and how their keys are
wrapped (decision 0116)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from lrs_contracts.codes import RecordCode
from lrs_domain.rules import check_uln
from portal.backend import Forbidden, NotFound, Refused
from portal.web.common import (
    ErasureOperator,
    KeysOperator,
    calls,
    checked_form,
    field,
    notice_for,
    reason_error,
    render,
    see_other,
    see_other_telling,
)

router = APIRouter(include_in_schema=False)

MAX_ERASURE_REASON = 500
FIELDS = ("uln", "reason", "mistyped")
# Why a well-formed ULN is no learner's, by the code the record rules give it (lrs_domain.rules.check_uln).
_NO_LEARNERS: dict[str, str] = {
    RecordCode.ULN_TEMPORARY: "This is the temporary ULN (RV003), so no learner has it: enter the learner's own ULN",
    RecordCode.ULN_CHECK_DIGIT: (
        "This ULN's check digit is wrong (RV002), so no learner can have it: check that you typed it right"
    ),
}


async def _erasures_page(
    request: Request,
    user: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    reach: dict[str, Any] | None = None,
    done: dict[str, Any] | None = None,
    status: int = 200,
    after: str | None = None,
) -> HTMLResponse:
    audit = await calls(request, user).erasures(after=after)
    context = {
        "check_digit_wrong": _uln_code((values or {}).get("uln", "")) == RecordCode.ULN_CHECK_DIGIT,
        "erasures": audit["erasures"],
        "older": audit["next"],
        "newest_first_page": after is None,
        "values": values or {},
        "errors": errors or {},
        "confirming": reach is not None,
        "reach": reach or {},
        "done": done,
    }
    return render(request, "ops_erasures.html", context, user=user, status_code=status)


def _uln_code(uln: str) -> str | None:
    """The one code the record rules give a ULN (RV001, RV003 or RV002), None for one a learner may have."""
    return next((finding.code for finding in check_uln(uln)), None)


def _erasure_errors(values: dict[str, str]) -> dict[str, str]:
    """Judged before the confirmation is asked, and again when it is given. A ULN whose check digit is wrong is
    no learner's (decision 0132): most likely mistyped, so it is refused unless the operator ticks that it is
    the ULN an AO's batch carried details under, which validation erases only if it holds any (0145). The
    temporary ULN (DOMAIN.md §2) is refused whatever is ticked: its records are many people's, sealed under
    their batches' own keys (0154). It is RV003, not also RV002 (docs/rules.md)."""
    errors = {}
    code = _uln_code(values["uln"])
    if code == RecordCode.ULN_MALFORMED:
        errors["uln"] = "Enter the learner's ULN: 10 digits, the first not 0, like 1000000043"
    elif code == RecordCode.ULN_TEMPORARY or (code in _NO_LEARNERS and values["mistyped"] != "yes"):
        errors["uln"] = _NO_LEARNERS[code]
    missing = "Say why the learner is erased: it is kept in the audit"
    if reason := reason_error(values["reason"], limit=MAX_ERASURE_REASON, missing=missing):
        errors["reason"] = reason
    return errors


def _erasure_values(form: Any) -> dict[str, str]:
    values = {name: field(form, name) for name in FIELDS}
    values["uln"] = values["uln"].strip()
    return values


@router.get("/ops/erasures")
async def erasures(
    request: Request, user: ErasureOperator, after: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """The erasure form, and the audit a page at a time, newest first."""
    try:
        return await _erasures_page(request, user, after=after, done=(await notice_for(request, user)).get("done"))
    except Refused:  # a position no page handed out (a hand-made link): start again at the newest
        return see_other("/ops/erasures")


@router.get("/ops/erasures/check")
async def check_erasure_again(request: Request, user: ErasureOperator) -> Response:
    """The confirmation's address asked by GET (Back to it, or a reload): the form it came from."""
    return see_other("/ops/erasures")


@router.post("/ops/erasures/check")
async def check_erasure(request: Request, user: ErasureOperator) -> HTMLResponse:
    """The confirmation step: what will be erased, every ULN merged with the learner named (validation's answer,
    read now: they are erased with them), with the same values ready to send. A ULN validation would refuse to
    erase is refused here, before anything is asked."""
    form = await checked_form(request, user)
    values = _erasure_values(form)
    if errors := _erasure_errors(values):
        return await _erasures_page(request, user, values=values, errors=errors, status=400)
    try:
        reach = await calls(request, user).erasure_reach(values["uln"])
    except (Refused, Forbidden, NotFound) as refused:  # NotFound: a ULN the LRS holds nothing about (0132)
        return await _erasures_page(request, user, values=values, errors={"uln": refused.detail}, status=400)
    return await _erasures_page(request, user, values=values, reach=reach)


@router.post("/ops/erasures")
async def erase(request: Request, user: ErasureOperator) -> Response:
    form = await checked_form(request, user)
    values = _erasure_values(form)
    if errors := _erasure_errors(values):
        return await _erasures_page(request, user, values=values, errors=errors, status=400)
    try:
        erasure, erased_now = await calls(request, user).erase_learner(values["uln"], values["reason"])
    except (Refused, Forbidden, NotFound) as refused:  # NotFound: a ULN the LRS holds nothing about (0132)
        return await _erasures_page(request, user, values=values, errors={"uln": refused.detail}, status=400)
    return await see_other_telling(request, user, "/ops/erasures", done={**erasure, "erased_now": erased_now})


@router.get("/ops/keyring")
async def keyring(request: Request, user: KeysOperator) -> HTMLResponse:
    """How the learners' data keys are wrapped (decision 0116): its own page, as counting the stored keys
    reads the whole key store."""
    wrapping = await calls(request, user).key_wrapping()
    rewrapped = (await notice_for(request, user)).get("rewrapped")
    return render(request, "ops_keyring.html", {"wrapping": wrapping, "rewrapped": rewrapped}, user=user)


@router.post("/ops/keyring/rewrap")
async def rewrap_keys(request: Request, user: KeysOperator) -> Response:
    """Re-wraps stored learner keys with the wrapping key new keys get, up to 100,000 a press."""
    await checked_form(request, user)
    rewrapped = await calls(request, user).rewrap_keys()
    return await see_other_telling(request, user, "/ops/keyring", rewrapped=rewrapped)
