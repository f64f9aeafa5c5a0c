"""The reference data routes: reloading the Ofqual catalogue and the awarding organisations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from lrs_contracts.codes import ProblemCode
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.problems import ProblemError, problem_responses
from validation.api_common import Operator
from validation.catalogue_publisher import load_and_publish
from validation.reference_store import (
    REMOVABLE_SHARE,
    LoadRules,
    ReferenceFileRefused,
    ReferenceFiles,
    ReferenceLoadUnconfirmed,
    ReferenceStore,
)

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")


class ReferenceLoaded(BaseModel):
    awarding_organisations: int
    qualifications: int = Field(description="The qualifications (and pathways) the catalogue now holds, as stored.")
    added: int = Field(0, description="Qualifications the catalogue did not hold before this load.")
    removed: int = Field(0, description="Qualifications the catalogue held before, and no longer holds.")
    changed: int = Field(
        0, description="Qualifications held before and now, with another title, AO, level, type or grade set."
    )
    catalogue_version: int = Field(0, description="The load's version: batches decided from now on are judged by it.")


def _store(request: Request) -> ReferenceStore:
    store: ReferenceStore = request.app.state.reference
    return store


@router.post(
    "/admin/reference/load",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["reference data"],
    summary="Reload the catalogue and awarding organisations from the reference files",
    description=(
        "Reads validation's own reference files (`VALIDATION_REFERENCE_DIR`; nothing is uploaded) and replaces the"
        " catalogue and the awarding organisations with them in one transaction. A file that is missing, is not"
        " UTF-8 or has a row that cannot be read is 422 `REFERENCE_FILE_REFUSED`, naming the file and why. A load"
        f" that would remove more than {REMOVABLE_SHARE:.0%} of the catalogue's qualifications (or all of them) is"
        " 409 `REFERENCE_LOAD_UNCONFIRMED` with the counts unless `allow_removals`; one that would move a"
        " qualification to another AO id, or drop from the AO list an id the catalogue's qualifications use, is 409"
        " unless `allow_ao_changes`. Nothing is changed by a refused load."
    ),
    responses=problem_responses(401, 403, 409, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def load_reference(
    request: Request,
    principal: Operator,
    allow_removals: Annotated[
        bool, Query(description=f"Load even if more than {REMOVABLE_SHARE:.0%} of the qualifications go.")
    ] = False,
    allow_ao_changes: Annotated[
        bool, Query(description="Load even if qualifications move to another AO id, or an AO id they use goes.")
    ] = False,
) -> ReferenceLoaded:
    rules = LoadRules(allow_removals=allow_removals, allow_ao_changes=allow_ao_changes)
    store = _store(request).ruled(rules, by=str(principal))
    try:
        files = ReferenceFiles.read(request.app.state.settings.reference_dir)
        loaded = await load_and_publish(store, request.app.state.outbox_producer, files)
    except ReferenceFileRefused as refusal:
        _log.warning("reference_load_refused", file=refusal.file, reason=refusal.reason, operator=str(principal))
        raise ProblemError(
            422,
            "A reference file cannot be loaded",
            f"{refusal.file}: {refusal.reason}. Nothing was loaded.",
            code=ProblemCode.REFERENCE_FILE_REFUSED,
            file=refusal.file,
        ) from refusal
    except ReferenceLoadUnconfirmed as refusal:
        _log.warning("reference_load_refused", reason=str(refusal), operator=str(principal))
        raise ProblemError(
            409,
            "The reference load needs confirming",
            f"{refusal} Nothing was loaded.",
            code=ProblemCode.REFERENCE_LOAD_UNCONFIRMED,
        ) from refusal
    change = store.change
    said = ReferenceLoaded(
        awarding_organisations=loaded.organisations,
        qualifications=loaded.qualifications,
        added=change.added if change else 0,
        removed=change.removed if change else 0,
        changed=change.changed if change else 0,
        catalogue_version=loaded.version,
    )
    # the catalogue every batch is judged by from now on: who replaced it is kept, as for every operator action
    _log.info(
        "reference_loaded",
        awarding_organisations=loaded.organisations,
        qualifications=loaded.qualifications,
        added=said.added,
        removed=said.removed,
        changed=said.changed,
        catalogue_version=loaded.version,
        operator=str(principal),
    )
    return said
