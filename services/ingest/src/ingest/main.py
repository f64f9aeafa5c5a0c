from __future__ import annotations

from ingest.bootstrap import create_app
from ingest.config import IngestSettings
from lrs_platform.allocator import map_large_blocks_apart
from lrs_platform.http import run_http


def main() -> None:
    map_large_blocks_apart()
    settings = IngestSettings()
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
