from __future__ import annotations

from lrs_platform.http import run_http
from portal.bootstrap import create_app
from portal.config import PortalSettings


def main() -> None:
    settings = PortalSettings()
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
