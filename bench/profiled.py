"""`python -m bench.profiled MODULE REPORT`: runs a service's main module under pyinstrument.

`python -m pyinstrument` writes nothing for a service stopped with SIGTERM: uvicorn shuts down
gracefully, then raises the signal again, and the default action ends the process before the report
is written. Here SIGTERM (re-raised by uvicorn after its shutdown) ends the run with SystemExit
instead, so the report is written. Only the main thread is sampled: the event loop, where the
services do their work (ingest parses in worker threads: those show as waiting).
"""

from __future__ import annotations

import runpy
import signal
import sys
from pathlib import Path
from types import FrameType

from pyinstrument import Profiler


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    module, report = sys.argv[1], Path(sys.argv[2])
    signal.signal(signal.SIGTERM, _exit)
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        sys.argv = [module]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.stop()
        report.write_text(profiler.output_text(unicode=True, show_all=False))


if __name__ == "__main__":
    main()
