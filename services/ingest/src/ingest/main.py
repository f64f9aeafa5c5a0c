from __future__ import annotations

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_platform.allocator import map_large_blocks_apart
from lrs_platform.http import run_http
from lrs_platform.settings import load_settings


def main() -> None:
    map_large_blocks_apart()
    settings = load_settings(IngestSettings)  # a setting refused: one line naming it, exit status 1
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
