"""The reference data routes: reloading the Ofqual catalogue and the awarding organisations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.problems import problem_responses
from validation.api_common import Operator
from validation.catalogue_publisher import load_and_publish
from validation.reference_store import ReferenceFiles, ReferenceStore

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")


class ReferenceLoaded(BaseModel):
    awarding_organisations: int
    qualifications: int


def _store(request: Request) -> ReferenceStore:
    store: ReferenceStore = request.app.state.reference
    return store


@router.post(
    "/admin/reference/load",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["reference data"],
    summary="Reload the catalogue and awarding organisations from the reference files",
    responses=problem_responses(401, 403),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def load_reference(request: Request, principal: Operator) -> ReferenceLoaded:
    files = ReferenceFiles.read(request.app.state.settings.reference_dir)
    store = _store(request)
    loaded = await load_and_publish(store, request.app.state.outbox_producer, files)
    # the catalogue every batch is judged by from now on: who replaced it is kept, as for every operator action
    _log.info(
        "reference_loaded",
        awarding_organisations=loaded.organisations,
        qualifications=loaded.qualifications,
        catalogue_version=loaded.version,
        operator=str(principal),
    )
    return ReferenceLoaded(awarding_organisations=loaded.organisations, qualifications=loaded.qualifications)
