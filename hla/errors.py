"""The errors raised by :mod:`hla`: every one is an :class:`HlaError`, itself a ``ValueError``."""

from __future__ import annotations


class HlaError(ValueError):
    """Base class of every error raised by :mod:`hla`."""


class TypingError(HlaError):
    """A typing that does not follow WHO nomenclature, e.g. ``"A*02:0x" at A: field 2 is not a number``."""

    def __init__(self, text: str, locus: str | None, reason: str) -> None:
        self.text = text
        self.locus = locus
        self.reason = reason
        where = f" at {locus}" if locus else ""
        super().__init__(f'"{text}"{where}: {reason}')


class UnknownAlleleError(TypingError):
    """A well-formed name the loaded IMGT/HLA tables do not list (allele, group, code or antigen)."""


class ReferenceRequiredError(TypingError):
    """A typing that needs a table: a MAC the NMDP code file, ``P``/``G`` groups the IMGT files."""


class ReferenceFileError(HlaError):
    """An IMGT/HLA or NMDP reference file that cannot be read in its published format."""


class IndexStateError(HlaError):
    """An :class:`hla.HlaIndex` operation that does not fit its state (duplicate or unknown key, bad file)."""
