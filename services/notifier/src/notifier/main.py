from __future__ import annotations

from lrs_platform.http import run_http
from lrs_platform.settings import load_settings
from notifier.bootstrap import create_app
from notifier.config import NotifierSettings


def main() -> None:
    settings = load_settings(NotifierSettings)  # a setting refused: one line naming it, exit status 1
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
