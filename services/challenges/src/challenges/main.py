from __future__ import annotations

from challenges.bootstrap import create_app
from challenges.config import ChallengesSettings
from lrs_platform.http import run_http
from lrs_platform.settings import load_settings


def main() -> None:
    settings = load_settings(ChallengesSettings)  # a setting refused: one line naming it, exit status 1
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
