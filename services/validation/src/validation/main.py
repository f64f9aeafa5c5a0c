from __future__ import annotations

from lrs_platform.allocator import map_large_blocks_apart
from lrs_platform.http import run_http
from lrs_platform.settings import load_settings
from validation.bootstrap import create_app
from validation.config import ValidationSettings


def main() -> None:
    map_large_blocks_apart()
    settings = load_settings(ValidationSettings)  # a setting refused: one line naming it, exit status 1
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
