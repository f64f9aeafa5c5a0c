from __future__ import annotations

from lrs_platform.http import run_http
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings


def main() -> None:
    settings = ReportingSettings()
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
