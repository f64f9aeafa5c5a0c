"""Lists of text sent to PostgreSQL as one comma-joined value that the server splits (decision 0109).

asyncpg encodes a `text[]` argument element by element, asking each element whether it is itself a
sub-array with `isinstance` against `collections.abc`'s ABCs: ~0.4 µs of the client's CPU an element,
~8 ms for a batch's 20,000 (ULN, QAN) values, where the same values joined into one text cost 0.5 ms.
The server's CPU is the same either way (measured on the benchmark's registry over 30 executions of each
statement on one connection): it plans these statements for their arguments' values, and folds the split
of a constant into the array constant the array argument was.
"""

from __future__ import annotations

from collections.abc import Sequence


def text_array(values: Sequence[str], parameter: int) -> tuple[str, str | Sequence[str]]:
    """The SQL expression that stands for `values` as a `text[]` passed in `$parameter`, and the
    argument to pass: the values joined by commas and split by the server when that gives back exactly
    these values (none holds a comma or is empty), the array itself otherwise."""
    joined = ",".join(values)
    if values and joined.count(",") == len(values) - 1 and all(values):
        return f"string_to_array(${parameter}::text, ',')", joined
    return f"${parameter}::text[]", values
