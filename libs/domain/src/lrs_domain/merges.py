"""Merged learners: under which ULN achievements are recorded, and which ULNs hold one learner's.

A merge makes one ULN an alias of another, its master. Masters can be merged later themselves
(A into B, then B into C), so the registry's links form chains, and a careless pair of merges can
even form a cycle. One learner is every ULN whose chain ends at the same ULN:
- new achievements are recorded under the end of the chain (C), whichever ULN a record names;
- achievements recorded before a merge stay under the ULN they were recorded under (A's under A),
  and still belong to the learner: a record naming A, B or C finds them, and C's PLR shows them.

A cycle has no natural end; its lowest ULN is taken as the end, so every ULN of the cycle (and
every ULN merged into it) resolves to the same learner, whichever of them is asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from lrs_domain.reference import Learner


class MergedLearner(NamedTuple):
    """What the merges say about one ULN.

    `chain`: the ULN, then each ULN it was merged into in turn (each once, even in a cycle).
    `recorded_uln`: the end of the chain (of a cycle, its lowest ULN), under which new achievements
    are recorded.
    `ulns`: every ULN of the learner, nearest first: the chain, then the other ULNs merged into the
    learner in ULN order. When two of them hold an achievement with the same key apart from the
    ULN (both recorded before the merge), the nearest is the one a record addresses.
    """

    chain: tuple[str, ...]
    recorded_uln: str
    ulns: tuple[str, ...]


class LearnerMerges:
    """The registry's merge links (merged ULN → the ULN it was merged into), followed both ways.

    Built once per batch or read from the links of at least every ULN connected to the ULNs asked
    about; a link to a ULN the links do not name further simply ends the chain there.
    """

    __slots__ = ("_master_of", "_merged_into")

    def __init__(self, master_of: Mapping[str, str]) -> None:
        self._master_of = dict(master_of)
        merged_into: dict[str, list[str]] = {}
        for uln, master in self._master_of.items():
            merged_into.setdefault(master, []).append(uln)
        self._merged_into = merged_into

    @staticmethod
    def of(learners: Iterable[Learner]) -> LearnerMerges:
        return LearnerMerges({learner.uln: learner.master_uln for learner in learners if learner.master_uln})

    def resolve(self, uln: str) -> MergedLearner:
        if uln not in self._master_of and uln not in self._merged_into:
            return MergedLearner((uln,), uln, (uln,))  # most learners were never merged
        chain = [uln]
        seen = {uln}
        master = self._master_of.get(uln)
        while master is not None and master not in seen:
            chain.append(master)
            seen.add(master)
            master = self._master_of.get(master)
        recorded_uln = chain[-1] if master is None else min(chain[chain.index(master) :])
        group = self._merged_with(recorded_uln)
        return MergedLearner(tuple(chain), recorded_uln, (*chain, *sorted(group - seen)))

    def ulns_of(self, uln: str) -> tuple[str, ...]:
        """`resolve(uln).ulns`, without resolving a ULN no merge names (nearly every one)."""
        if uln not in self._master_of and uln not in self._merged_into:
            return (uln,)
        return self.resolve(uln).ulns

    def recorded_uln(self, uln: str) -> str:
        """`resolve(uln).recorded_uln`, without resolving a ULN no merge names (nearly every one)."""
        if uln not in self._master_of and uln not in self._merged_into:
            return uln
        return self.resolve(uln).recorded_uln

    def _merged_with(self, recorded_uln: str) -> set[str]:
        """`recorded_uln` and every ULN merged into it, directly or through others."""
        group = {recorded_uln}
        waiting = [recorded_uln]
        while waiting:
            for merged in self._merged_into.get(waiting.pop(), ()):
                if merged not in group:
                    group.add(merged)
                    waiting.append(merged)
        return group
