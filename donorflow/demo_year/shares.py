"""How the year's totals are shared out. `apportion` splits an integer total over weights so the parts
sum to it exactly (largest remainder), which is what keeps every funnel figure exact; `table` reads the
weighted reference tables (`name=value | name=value …`) the venues, alleles, centres and diagnoses are
written in.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["apportion", "table"]


def table(text: str) -> tuple[tuple[str, str], ...]:
    """`name=value | name=value …` → ((name, value), …): long reference tables stay short and readable."""
    pairs = (item.rsplit("=", 1) for item in text.split("|"))
    return tuple((name.strip(), value.strip()) for name, value in pairs)


def apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Integers of at least `minimum`, proportional to `weights`, summing to `total` (largest remainder)."""
    free = total - minimum * len(weights)
    if free < 0 or not weights:
        raise ValueError(f"cannot split {total} into {len(weights)} parts of at least {minimum}")
    shares = [w * free / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: free - sum(counts)]:
        counts[i] += 1
    return [c + minimum for c in counts]
