"""The validation service's HTTP routes: one router per feature, gathered here in the order of the OpenAPI
document (reference data, the learner registry, erasures, a learner's personal data, the learner keyring) for
`bootstrap` to mount.
"""

from __future__ import annotations

from fastapi import APIRouter

from validation import erasure_api, keyring_api, learner_registry_api, personal_data_api, reference_api

# the features' routes themselves, not routers included: a reader of `router.routes` sees every route
router = APIRouter(
    routes=[
        route
        for feature in (reference_api, learner_registry_api, erasure_api, personal_data_api, keyring_api)
        for route in feature.router.routes
    ]
)
