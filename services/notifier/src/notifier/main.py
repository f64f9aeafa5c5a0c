from __future__ import annotations

from lrs_platform.http import run_http
from notifier.bootstrap import create_app
from notifier.config import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
