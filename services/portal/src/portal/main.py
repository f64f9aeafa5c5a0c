from __future__ import annotations

from lrs_platform.http import run_http
from lrs_platform.settings import load_settings
from portal.bootstrap import create_app
from portal.config import PortalSettings


def main() -> None:
    settings = load_settings(PortalSettings)  # a setting refused: one line naming it, exit status 1
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
