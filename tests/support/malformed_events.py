"""Ways a message may differ from what validation writes (a PLR event or a decided chunk), for the tests that
prove a fast reader takes only what the contract models take: most break the contract, some only spell it
otherwise. Each reader's tests add the ways of their own events."""

from __future__ import annotations

import re
from collections.abc import Callable

ULN = "1000000043"
OTHER_KEY = b'"key":{"ao_id":"RN1","uln":"1000000051","qualification_number":"X","award_date":"2020-01-01"}'

Mutation = Callable[[bytes], bytes]
WRITTEN_OTHERWISE: dict[str, Mutation] = {
    "occurred_at at another offset": lambda v: v.replace(b'Z","source"', b'+01:00","source"', 1),
    "occurred_at at +00:00": lambda v: v.replace(b'Z","source"', b'+00:00","source"', 1),
    "occurred_at without an offset": lambda v: v.replace(b'Z","source"', b'","source"', 1),
    "occurred_at on no day": lambda v: re.sub(rb'(?<="occurred_at":")[0-9-]{10}', b"2023-02-30", v, count=1),
    "occurred_at at no hour": lambda v: re.sub(rb'(?<="occurred_at":")([0-9-]{10})T[0-9]{2}', rb"\1T24", v, count=1),
    "a second key in the payload": lambda v: v.replace(b',"provenance":', b"," + OTHER_KEY + b',"provenance":', 1),
    "a space after it": lambda v: v + b" ",
    "bytes after it": lambda v: v + b"x",
    "an object after it": lambda v: v + b"{}",
    "a ULN of nine digits": lambda v: v.replace(f'"uln":"{ULN}"'.encode(), b'"uln":"100000004"'),
    "a ULN starting 0": lambda v: v.replace(f'"uln":"{ULN}"'.encode(), b'"uln":"0000000043"'),
    "an event id in capitals": lambda v: re.sub(rb'(?<="event_id":")[0-9a-f-]{36}', lambda m: m[0].upper(), v),
    "a batch id that is no UUID": lambda v: re.sub(rb'(?<="batch_id":")[0-9a-f]{8}', b"nothexxx", v),
    "an empty source": lambda v: re.sub(rb'"source":"[^"]*"', b'"source":""', v, count=1),
    "schema version 0": lambda v: v.replace(b'"schema_version":1', b'"schema_version":0', 1),
    "line 0": lambda v: re.sub(rb'"line":[0-9]+', b'"line":0', v, count=1),
    "an unknown status": lambda v: re.sub(rb'"status":"[PF]"', b'"status":"X"', v, count=1),
    "credits as a text": lambda v: v.replace(b'"credits":null', b'"credits":"1"', 1),
    "an award date on no day": lambda v: re.sub(rb'(?<="award_date":")[0-9-]{10}', b"2024-02-30", v, count=1),
    "an unknown envelope field": lambda v: v.replace(b'"causation_id":', b'"extra":1,"causation_id":', 1),
    "an unknown payload field": lambda v: v.replace(b',"provenance":', b',"extra":null,"provenance":', 1),
    "a field left out": lambda v: re.sub(rb',"mis_identifier":(?:null|"[^"]*")', b"", v, count=1),
    "a byte that is not UTF-8": lambda v: v.replace(b'"ao_id":"', b'"ao_id":"\xff', 1),
    "an escaped letter": lambda v: v.replace(b'"ao_id":"R', b'"ao_id":"\\u0052', 1),
    "another event type's shape": lambda v: (
        v.replace(b"lrs.achievement.updated.v1", b"lrs.achievement.superseded.v1")
        .replace(b"lrs.achievement.withdrawn.v1", b"lrs.achievement.superseded.v1")
        .replace(b"lrs.achievement.recorded.v1", b"lrs.achievement.updated.v1")
    ),
}
