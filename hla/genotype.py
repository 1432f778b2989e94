"""A person's typings: per locus the two typings, from a mapping of lab columns or a GL string.

GL String (Milius et al. 2013, Hum Immunol 74:1083): ``^`` separates loci, ``+`` the two typings of
a locus, ``/`` alternatives. A locus given one typing is homozygous (WMDA convention for a single
reported allele); a locus not given is untyped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from hla.errors import TypingError
from hla.nomenclature import LOCI, Typing, canonical_locus, parse_typing, untyped
from hla.reference import Reference

__all__ = ["Genotype", "GenotypeSource", "parse_genotype"]

GenotypeSource = str | Mapping[str, "str | Sequence[str | None] | None"]
"""What :func:`parse_genotype` reads: a GL string, or locus -> ``"A*02:01+A*24:02"`` / a pair / one typing."""


@dataclass(frozen=True, slots=True)
class Genotype:
    """Per typed locus the two typings, in :data:`LOCI` order."""

    pairs: tuple[tuple[Typing, Typing], ...]

    def __post_init__(self) -> None:
        loci = [first.locus for first, _ in self.pairs]
        if loci != sorted(loci, key=LOCI.index) or len(set(loci)) != len(loci):
            raise TypingError(" ".join(loci), None, "a genotype needs each locus once, in LOCI order")

    def __getitem__(self, locus: str) -> tuple[Typing, Typing]:
        for pair in self.pairs:
            if pair[0].locus == locus:
                return pair
        blank = untyped(locus)
        return blank, blank

    def __iter__(self) -> Iterator[tuple[Typing, Typing]]:
        return iter(self.pairs)

    @property
    def loci(self) -> tuple[str, ...]:
        return tuple(first.locus for first, _ in self.pairs)

    def typed(self, locus: str) -> bool:
        return locus in self.loci

    def to_glstring(self) -> str:
        return "^".join(f"{a.text}+{b.text}" for a, b in self.pairs)

    def __str__(self) -> str:
        return self.to_glstring()

    @classmethod
    def of(cls, pairs: Mapping[str, tuple[Typing, Typing]]) -> Genotype:
        """From already-parsed typings (synthetic data, the index)."""
        return cls(tuple(pairs[locus] for locus in LOCI if locus in pairs))


def parse_genotype(source: GenotypeSource, reference: Reference | None = None) -> Genotype:
    """Read a GL string or a mapping of locus columns into a :class:`Genotype`."""
    if isinstance(source, str):
        return _from_glstring(source, reference)
    pairs: dict[str, tuple[Typing, Typing]] = {}
    for column, value in source.items():
        locus = canonical_locus(column)
        if value is None or value == "" or (not isinstance(value, str) and not any(value)):
            continue
        texts = value.split("+") if isinstance(value, str) else [v for v in value if v]
        if len(texts) > 2:
            raise TypingError(str(value), locus, "more than two typings at one locus")
        if locus in pairs:
            raise TypingError(str(value), locus, "locus given twice")
        pairs[locus] = _pair(texts, locus, reference)
    return Genotype.of(pairs)


def _pair(texts: Sequence[str], locus: str | None, reference: Reference | None) -> tuple[Typing, Typing]:
    first = parse_typing(texts[0], locus, reference)
    second = parse_typing(texts[1], first.locus, reference) if len(texts) == 2 else first
    return first, second


def _from_glstring(text: str, reference: Reference | None) -> Genotype:
    if "|" in text or "~" in text:
        raise TypingError(
            text, None, "GL genotype alternatives '|' and phased haplotypes '~' are not supported"
        )
    pairs: dict[str, tuple[Typing, Typing]] = {}
    for block in text.split("^"):
        texts = [t.strip() for t in block.split("+")]
        if len(texts) > 2 or not all(texts):
            raise TypingError(block, None, "a GL locus block is one or two typings joined by '+'")
        pair = _pair(texts, None, reference)
        locus = pair[0].locus
        if locus in pairs:
            raise TypingError(text, locus, "locus given twice in the GL string")
        pairs[locus] = pair
    return Genotype.of(pairs)
