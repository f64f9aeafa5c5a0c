"""The benchmark of the Learning Records Service: `python -m bench.run [--smoke]` (see docs/performance.md)."""
