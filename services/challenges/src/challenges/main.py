from __future__ import annotations

from challenges.bootstrap import create_app
from challenges.config import ChallengesSettings
from lrs_platform.http import run_http


def main() -> None:
    settings = ChallengesSettings()
    run_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
