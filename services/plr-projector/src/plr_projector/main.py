from __future__ import annotations

from lrs_platform.http import run_http
from plr_projector.bootstrap import create_app
from plr_projector.config import ProjectorSettings


def main() -> None:
    settings = ProjectorSettings()
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
