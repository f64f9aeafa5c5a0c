"""An upload's own idle deadline is always the one that answers: below the services' backstop for such routes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.config import IngestSettings
from lrs_platform.http import OWN_BODY_IDLE_SECONDS


def test_an_upload_idle_deadline_at_or_past_the_backstop_is_refused() -> None:
    with pytest.raises(ValidationError, match="upload_idle_seconds"):
        IngestSettings(upload_idle_seconds=OWN_BODY_IDLE_SECONDS)
    assert IngestSettings(upload_idle_seconds=OWN_BODY_IDLE_SECONDS - 1).upload_idle_seconds < OWN_BODY_IDLE_SECONDS
