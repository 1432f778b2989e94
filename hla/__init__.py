"""HLA nomenclature, match grading and the donor search index (DESIGN §4). Pure Python + numpy.

Public surface (names kept stable for models/, flows/ and the CLI):

- :data:`LOCI` — ``("A", "B", "C", "DRB1", "DQB1", "DPB1")``, the values of the :data:`Locus` literal.
- :func:`parse_typing(text, locus=None, reference=None) <parse_typing>` -> :class:`Typing` — one WHO
  typing (``A*02:01``, ``A*02:01:01:02L``, ``A*02``, ``A*02:XX``, ``A*02:AB``, ``A*02:01/02:06``,
  its abbreviation ``A*02:01/06``, ``A2``, ``DR15``, ``A*01:01:01G``/``A*02:01P`` with tables, renamed
  and pre-2010 names such as ``A*0201`` through the tables' history); ``locus`` names the lab column.
  Malformed text raises :class:`TypingError`, e.g. ``"A*02:0x" at A: field 2 is not a number``.
- :func:`parse_genotype(mapping_or_glstring, reference=None) <parse_genotype>` -> :class:`Genotype`.
- :func:`grade(patient, donor, loci=DEFAULT_LOCI) <grade>` -> :class:`MatchResult` (per locus two
  :class:`Grade`, ``matched``/``of``/``mismatches``/``allele_mismatches``/``antigen_mismatches``/
  ``certainty``; ``as_dict(code)`` is what the CLI prints); :func:`rank_key` orders donors.
- :class:`HlaIndex` with :class:`Member`: ``build``/``from_columns``/``add``/``update``/``remove``/
  ``search`` (-> :class:`SearchResult` of :class:`Hit`) / ``save``/``load``. Identical to :func:`grade`.
- :class:`Reference`, :func:`load_reference(data_dir) <load_reference>` — IMGT/HLA (allele list and
  history, P/G groups, serology) and NMDP MAC tables; :data:`SHIPPED_DIR` holds release
  :data:`SHIPPED_RELEASE`, which donorflow loads by default.
- :class:`Rule` (what decided a position's grade) and :class:`NullMatch` (a null allele at a position)
  ride on :class:`MatchResult` as ``rules`` and ``nulls``.
- :class:`HlaError` (a ``ValueError``) and its subclasses.
"""

from hla.errors import (
    HlaError,
    IndexStateError,
    ReferenceFileError,
    ReferenceRequiredError,
    TypingError,
    UnknownAlleleError,
)
from hla.genotype import Genotype, parse_genotype
from hla.grading import (
    DEFAULT_LOCI,
    Certainty,
    Grade,
    MatchResult,
    NullMatch,
    Rule,
    grade,
    grade_pair,
    grade_typing,
    rank_key,
)
from hla.index import Hit, HlaIndex, Member, SearchResult
from hla.nomenclature import LOCI, Kind, Locus, Typing, canonical_locus, parse_typing
from hla.reference import SHIPPED_DIR, SHIPPED_RELEASE, Reference, load_reference, read_mac_file

__all__ = [
    "DEFAULT_LOCI",
    "LOCI",
    "SHIPPED_DIR",
    "SHIPPED_RELEASE",
    "Certainty",
    "Genotype",
    "Grade",
    "Hit",
    "HlaError",
    "HlaIndex",
    "IndexStateError",
    "Kind",
    "Locus",
    "MatchResult",
    "Member",
    "NullMatch",
    "Reference",
    "ReferenceFileError",
    "ReferenceRequiredError",
    "Rule",
    "SearchResult",
    "Typing",
    "TypingError",
    "UnknownAlleleError",
    "canonical_locus",
    "grade",
    "grade_pair",
    "grade_typing",
    "load_reference",
    "parse_genotype",
    "parse_typing",
    "rank_key",
    "read_mac_file",
]
