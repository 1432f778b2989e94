"""Optional IMGT/HLA and NMDP tables that sharpen nomenclature and grading.

Without a :class:`Reference` (or with ``Reference()``), typings are read by syntax alone: ``allele``
means the first two fields agree and serology is compared by its allele group. ``load_reference(dir)``
reads whichever of these files the directory holds, each in its published format:

==================  ==============================================================================
``Allelelist.txt``  IMGT/HLA allele list (``AlleleID,Allele`` CSV): unknown names become errors.
``hla_nom.txt``     WMDA names with their history (``A*;02:01:08;20020930;20220131;02:1040;Sequence
                    renamed``): a renamed allele is read as its current name, a deleted one is an error.
``Nomenclature_2009.txt``  names before the April 2010 colons (``A*0201010  A*02:01:01:01``): an old
                    typing ``A*0201`` or ``Cw*0304`` is read as ``A*02:01``, ``C*03:04``.
``hla_nom_p.txt``   WMDA P groups (``A*;02:01:01:01/.../02:09;02:01P``): ``allele`` means same P group.
``hla_nom_g.txt``   WMDA G groups (``A*;01:01:01:01/...;01:01:01G``): ``A*01:01:01G`` typings.
``rel_dna_ser.txt`` WMDA allele -> serological equivalents (``A*;23:01:01;23;;;``).
``rel_ser_ser.txt`` WMDA broad -> splits and associated antigens (``A;9;23/24;``).
``numer.v3.txt``    NMDP multiple allele codes (``AB<TAB>01/02``); ``alpha.v3.txt`` or ``mac.txt``
                    (``code<TAB>alleles``) are read the same way.
``dpb1_tce.txt``    DPB1 T-cell-epitope groups (``DPB1*09:01<TAB>1``), lowest-priority extra.
==================  ==============================================================================

Each file may also be gzip-compressed (``rel_dna_ser.txt.gz``). The package ships one pinned IPD-IMGT/HLA
release (:data:`SHIPPED_DIR`, see its README.md); :func:`load_reference` with ``cache_dir`` keeps the
parsed tables there in a compact form keyed by the files' fingerprint, so a process reads them in
milliseconds instead of parsing megabytes of text.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import marshal
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hla.errors import ReferenceFileError

__all__ = ["SHIPPED_DIR", "SHIPPED_RELEASE", "MacTable", "Reference", "load_reference", "read_mac_file"]

SHIPPED_RELEASE = "3.58.0"
"""The IPD-IMGT/HLA release shipped inside the package."""
SHIPPED_DIR = Path(__file__).resolve().parent / "data" / SHIPPED_RELEASE
"""Its WMDA files, gzip-compressed and otherwise as published (README.md there: source, licence)."""

# WMDA file locus names (rel_ser_ser uses serological names) -> the loci graded here.
_FILE_LOCI = {
    "A": "A",
    "B": "B",
    "C": "C",
    "CW": "C",
    "DRB1": "DRB1",
    "DR": "DRB1",
    "DQB1": "DQB1",
    "DQ": "DQB1",
    "DPB1": "DPB1",
    "DP": "DPB1",
    "DPW": "DPB1",
}
_MAC_LINE = re.compile(r"^\*?\s*([A-Z]{2,5})\s+([0-9][0-9A-Z:/]*)\s*$")
_ALLELE_FILE = "Allelelist.txt"
_MAC_FILES = ("numer.v3.txt", "alpha.v3.txt", "mac.txt")
_TABLE_FILES = (
    _ALLELE_FILE,
    "hla_nom.txt",
    "Nomenclature_2009.txt",
    "hla_nom_p.txt",
    "hla_nom_g.txt",
    "rel_dna_ser.txt",
    "rel_ser_ser.txt",
    "dpb1_tce.txt",
    "dpb_tce.csv",
)
_CACHE_FORMAT = 2
_VERSION = re.compile(r"^#\s*version:\s*(?:IPD-IMGT/HLA\s*)?(\S+)")


@dataclass(frozen=True, eq=False)
class Reference:
    """IMGT/HLA and NMDP tables; every field is keyed by locus (``"A"``) then by name without locus.

    Build one with :func:`load_reference`, or directly (tests, synthetic data). An empty
    ``Reference()`` switches every table off.
    """

    alleles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Full allele names per locus, with expression suffix: ``{"A": {"02:01:01:01", "24:09N"}}``."""
    p_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """P group name -> member alleles: ``{"A": {"02:01P": ("02:01:01:01", "02:09")}}``."""
    g_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """G group name -> member alleles: ``{"A": {"01:01:01G": ("01:01:01:01", "01:01:01:02N")}}``."""
    serology: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """Serological antigen -> alleles assigned to it: ``{"A": {"23": {"23:01:01"}}}``."""
    splits: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """Broad or parent antigen -> its splits and associated antigens: ``{"A": {"9": {"23", "24"}}}``."""
    mac: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """NMDP code -> subtypes: ``{"AB": ("01", "02")}``; a subtype with ``:`` names its own group."""
    tce: Mapping[str, int] = field(default_factory=dict)
    """DPB1 two-field name -> TCE group (1 = most immunogenic): ``{"09:01": 1}``."""
    allele_serology: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """Allele -> its serological antigens (rel_dna_ser, every column but 0 and ?): ``{"B": {"15:01:01:01":
    {"62"}}}``. An allele not listed has no assigned serology: antigen level falls back to field 1."""
    associated: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """Antigen -> its associated antigens only (rel_ser_ser column 4): ``{"B": {"39": {"3901", "3902"}}}``."""
    history: Mapping[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)
    """Deleted name -> (its current name or "", the reason), from hla_nom.txt: ``{"A": {"02:01:08":
    ("02:1040", "Sequence renamed")}}``."""
    old_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Pre-2010 name (and each two- and three-field prefix of one) -> the 2010 name:
    ``{"A": {"0201": "02:01", "02010101": "02:01:01:01"}}`` (Nomenclature_2009.txt)."""
    release: str = ""
    """The IPD-IMGT/HLA release the files name in their ``# version:`` header (empty: not stated)."""
    files: tuple[str, ...] = ()
    """The files read, for ``donorflow hla tables``."""
    fingerprint: str = "none"
    """Digest of the loaded files, so a saved index is not read with other tables."""
    _antigens_by_prefix: dict[str, dict[str, frozenset[str]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _relatives: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict, init=False, repr=False)
    _p_of_protein: dict[str, dict[str, str]] = field(default_factory=dict, init=False, repr=False)
    _prefix_null: dict[str, dict[str, bool]] = field(default_factory=dict, init=False, repr=False)
    cache: dict[tuple[str, str | None], object] = field(default_factory=dict, init=False, repr=False)
    """Parsed typings, so a registry's repeated strings are read once."""

    def __post_init__(self) -> None:
        # WMDA: a P group is alleles sharing the antigen-recognition-domain protein; every allele with
        # the same two fields is the same protein, so the two-field name maps to one P group.
        for locus, groups in self.p_groups.items():
            by_protein = self._p_of_protein.setdefault(locus, {})
            for name, members in groups.items():
                for member in members:
                    if not member.endswith("N"):
                        by_protein.setdefault(_two_fields(member), name)
        for locus, names in self.alleles.items():
            prefixes = self._prefix_null.setdefault(locus, {})
            for name in names:
                null = name.endswith("N")
                fields = name.rstrip("NLSCAQ").split(":")
                for depth in range(1, len(fields) + 1):
                    prefix = ":".join(fields[:depth])
                    prefixes[prefix] = prefixes.get(prefix, True) and null

    @property
    def has_alleles(self) -> bool:
        return bool(self.alleles)

    @property
    def has_serology(self) -> bool:
        return bool(self.serology)

    def counts(self) -> dict[str, int]:
        """Entries per table, for ``donorflow hla tables``."""
        return {
            "alleles": sum(len(names) for names in self.alleles.values()),
            "p_groups": sum(len(groups) for groups in self.p_groups.values()),
            "g_groups": sum(len(groups) for groups in self.g_groups.values()),
            "alleles_with_serology": sum(len(table) for table in self.allele_serology.values()),
            "serological_antigens": sum(len(table) for table in self.serology.values()),
            "broad_and_associated_antigens": sum(len(table) for table in self.splits.values()),
            "renamed_or_deleted_alleles": sum(len(table) for table in self.history.values()),
            "pre_2010_names": sum(len(table) for table in self.old_names.values()),
            "mac_codes": len(self.mac),
            "dpb1_tce": len(self.tce),
        }

    def antigens_of(self, locus: str, fields: tuple[str, ...]) -> frozenset[str]:
        """The serological antigens WMDA assigns to an allele name (a two-field name: the union over
        its alleles); empty when rel_dna_ser gives none (null, ``?``, or no tables)."""
        table = self.allele_serology.get(locus)
        if not table:
            return frozenset()
        by_prefix = self._antigens_by_prefix.get(locus)
        if by_prefix is None:  # built on first use per locus: most commands never grade by serology
            found: dict[str, set[str]] = {}
            for name, antigens in table.items():
                parts = name.rstrip("NLSCAQ").split(":")
                for depth in range(2, len(parts) + 1):
                    found.setdefault(":".join(parts[:depth]), set()).update(antigens)
            by_prefix = self._antigens_by_prefix[locus] = {k: frozenset(v) for k, v in found.items()}
        return by_prefix.get(":".join(fields), frozenset())

    def relatives(self, locus: str, antigen: str) -> frozenset[str]:
        """The antigen, its broads and parents, and its splits and associated antigens, transitively
        (WMDA rel_ser_ser): B39 -> {B39, B16, B3901, B3902}; B38 and B39, splits of B16, are not
        relatives of each other."""
        key = (locus, antigen)
        found = self._relatives.get(key)
        if found is None:
            table = self.splits.get(locus, {})
            parents: dict[str, set[str]] = {}
            for parent, children in table.items():
                for child in children:
                    parents.setdefault(child, set()).add(parent)
            up = {antigen}
            todo = [antigen]
            while todo:
                for parent in parents.get(todo.pop(), ()):
                    if parent not in up:
                        up.add(parent)
                        todo.append(parent)
            found = self._relatives[key] = frozenset(up | self.antigens_covered(locus, antigen))
        return found

    def is_associated(self, locus: str, first: str, second: str) -> bool:
        """Whether one antigen is an associated antigen of the other (B39 and B3901)."""
        table = self.associated.get(locus, {})
        return second in table.get(first, ()) or first in table.get(second, ())

    def current_name(self, locus: str, name: str) -> tuple[str, str] | None:
        """A deleted allele name's (current name or "", reason) from hla_nom.txt, following renames;
        None when the name was never deleted."""
        table = self.history.get(locus)
        if not table or name not in table:
            return None
        new, reason = table[name]
        seen = {name}
        while new and new in table and new not in seen:  # renamed, then renamed or deleted again
            seen.add(new)
            new, reason = table[new]
        return new, reason

    def protein_key(self, locus: str, fields: tuple[str, ...]) -> str:
        """The name of the protein an allele codes: its P group when loaded, else its first two fields."""
        two = ":".join(fields[:2])
        return self._p_of_protein.get(locus, {}).get(two, two)

    def known(self, locus: str, fields: tuple[str, ...]) -> bool:
        """Whether the allele list names this allele or group (always true with no list loaded)."""
        if not self.alleles:
            return True
        return ":".join(fields) in self._prefix_null.get(locus, {})

    def only_nulls(self, locus: str, fields: tuple[str, ...]) -> bool:
        """Whether every listed allele under this name is a null (``A*24:09`` written without its N)."""
        return self._prefix_null.get(locus, {}).get(":".join(fields), False)

    def antigens_covered(self, locus: str, antigen: str) -> frozenset[str]:
        """An antigen with its splits and associated antigens (WMDA rel_ser_ser: A9 covers A23, A24)."""
        table = self.splits.get(locus, {})
        seen = {antigen}
        todo = [antigen]
        while todo:
            for child in table.get(todo.pop(), frozenset()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return frozenset(seen)


def _two_fields(name: str) -> str:
    return ":".join(name.rstrip("NLSCAQ").split(":")[:2])


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def _data_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with _open_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if line and not line.startswith("#"):
                    yield number, line
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ReferenceFileError(f"{path}: cannot be read ({exc})") from exc


def _release_of(path: Path) -> str:
    """The release a WMDA/IMGT file names in its header (``# version: IPD-IMGT/HLA 3.58.0``)."""
    try:
        with _open_text(path) as handle:
            for _ in range(10):
                match = _VERSION.match(handle.readline())
                if match:
                    return match.group(1)
    except (OSError, UnicodeDecodeError, EOFError):
        return ""
    return ""


def _file_locus(path: Path, number: int, name: str) -> str | None:
    locus = name.rstrip("*").upper()
    if not locus:
        raise ReferenceFileError(f"{path}:{number}: no locus")
    return _FILE_LOCI.get(locus)  # other genes (DRB3, DQA1, ...) are not graded here


def _read_alleles(path: Path) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for number, line in _data_lines(path):
        row = next(csv.reader([line]))
        if row == ["AlleleID", "Allele"]:
            continue
        if len(row) < 2 or "*" not in row[1]:
            raise ReferenceFileError(f"{path}:{number}: expected 'AlleleID,Allele', got {line!r}")
        gene, name = row[1].split("*", 1)
        locus = _file_locus(path, number, gene)
        if locus:
            found.setdefault(locus, set()).add(name)
    return {locus: frozenset(names) for locus, names in found.items()}


def _read_groups(path: Path, suffix: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """WMDA hla_nom_p/g: ``locus*;member/member/...;group name`` (an empty name: not grouped)."""
    groups: dict[str, dict[str, tuple[str, ...]]] = {}
    for number, line in _data_lines(path):
        parts = line.split(";")
        if len(parts) < 3:
            raise ReferenceFileError(f"{path}:{number}: expected 'locus*;alleles;group', got {line!r}")
        locus = _file_locus(path, number, parts[0])
        name = parts[2].strip()
        if not locus or not name:
            continue
        if not name.endswith(suffix):
            raise ReferenceFileError(f"{path}:{number}: group {name!r} does not end in {suffix}")
        groups.setdefault(locus, {})[name] = tuple(m for m in parts[1].split("/") if m)
    return groups


def _read_rel_dna_ser(
    path: Path,
) -> tuple[dict[str, dict[str, frozenset[str]]], dict[str, dict[str, frozenset[str]]]]:
    """WMDA rel_dna_ser: ``locus*;allele;unambiguous;possible;assumed;expert``; 0 = null, ? = unknown.
    Returns antigen -> alleles and allele -> antigens."""
    found: dict[str, dict[str, set[str]]] = {}
    of_allele: dict[str, dict[str, frozenset[str]]] = {}
    for number, line in _data_lines(path):
        parts = line.split(";")
        if len(parts) < 3:
            raise ReferenceFileError(f"{path}:{number}: expected 'locus*;allele;antigen;...', got {line!r}")
        locus = _file_locus(path, number, parts[0])
        if not locus or parts[1].endswith("N"):
            continue
        antigens = {
            antigen
            for column in parts[2:6]
            for antigen in column.strip().split("/")
            if antigen.isdigit() and antigen != "0"
        }
        for antigen in antigens:
            found.setdefault(locus, {}).setdefault(antigen, set()).add(parts[1])
        if antigens:
            of_allele.setdefault(locus, {})[parts[1]] = frozenset(antigens)
    return {loc: {ag: frozenset(a) for ag, a in table.items()} for loc, table in found.items()}, of_allele


def _read_old_names(path: Path) -> dict[str, dict[str, str]]:
    """Nomenclature_2009.txt: ``A*01010102N          A*01:01:01:02N`` per line after two header lines.
    Prefixes are added where they are unambiguous: ``0101`` -> ``01:01``, ``010101`` -> ``01:01:01``."""
    exact: dict[str, dict[str, str]] = {}
    prefixes: dict[str, dict[str, str | None]] = {}
    for number, line in _data_lines(path):
        parts = line.split()
        if len(parts) != 2 or "*" not in parts[0] or parts[1] == "None":
            continue  # the header lines; None: deleted before 2010 (hla_nom.txt has those)
        if "*" not in parts[1]:
            raise ReferenceFileError(f"{path}:{number}: expected 'old name<spaces>new name', got {line!r}")
        gene, old = parts[0].split("*", 1)
        locus = _file_locus(path, number, gene)
        if not locus:
            continue
        new = parts[1].split("*", 1)[1]
        exact.setdefault(locus, {})[old] = new
        fields = new.rstrip("NLSCAQ").split(":")
        table = prefixes.setdefault(locus, {})
        for depth in range(2, len(fields) + 1):
            key, value = "".join(fields[:depth]), ":".join(fields[:depth])
            table[key] = value if table.get(key, value) == value else None  # None: two readings
    found: dict[str, dict[str, str]] = {}
    for locus, table in prefixes.items():
        names = {key: value for key, value in table.items() if value is not None}
        names.update(exact.get(locus, {}))
        found[locus] = names
    return found


def _read_history(path: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """WMDA hla_nom: ``locus*;name;assigned;deleted;identical to;reason``; only deleted allele rows."""
    history: dict[str, dict[str, tuple[str, str]]] = {}
    for number, line in _data_lines(path):
        parts = line.split(";") + ["", "", ""]
        if not parts[0].endswith("*"):  # serological antigens (A;9;...) are not alleles
            continue
        locus = _file_locus(path, number, parts[0])
        if locus and parts[3].strip():
            history.setdefault(locus, {})[parts[1].strip()] = (parts[4].strip(), parts[5].strip())
    return history


def _read_rel_ser_ser(
    path: Path,
) -> tuple[dict[str, dict[str, frozenset[str]]], dict[str, dict[str, frozenset[str]]]]:
    """WMDA rel_ser_ser: ``locus;antigen;splits;associated`` (``A;9;23/24;``, ``A;2;;203/210``)."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    associated: dict[str, dict[str, frozenset[str]]] = {}
    for number, line in _data_lines(path):
        parts = line.split(";") + ["", ""]
        locus = _file_locus(path, number, parts[0])
        if not parts[1].isdigit():
            raise ReferenceFileError(f"{path}:{number}: expected 'locus;antigen;splits;associated'")
        if locus:
            children = {c for c in (parts[2] + "/" + parts[3]).split("/") if c.isdigit()}
            found.setdefault(locus, {})[parts[1]] = frozenset(children)
            linked = frozenset(c for c in parts[3].split("/") if c.isdigit())
            if linked:
                associated.setdefault(locus, {})[parts[1]] = linked
    return found, associated


class MacTable(Mapping[str, tuple[str, ...]]):
    """NMDP code -> subtypes, kept as the file's ``01/02`` strings and split when a code is looked up:
    the full NMDP table has hundreds of thousands of codes, and one string each loads (and sits in
    memory) several times cheaper than a tuple of strings each."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, str]) -> None:
        self.raw = raw

    def __getitem__(self, code: str) -> tuple[str, ...]:
        return tuple(s for s in self.raw[code].split("/") if s)

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __contains__(self, code: object) -> bool:
        return code in self.raw


def read_mac_file(path: str | Path) -> Mapping[str, tuple[str, ...]]:
    """Read and check an NMDP MAC file (numer.v3.txt, alpha.v3.txt or ``CODE<TAB>subtypes``)."""
    return _read_mac(Path(path))


def _read_mac(path: Path) -> MacTable:
    """NMDP numer.v3/alpha.v3 (headers, then ``[*]<TAB>CODE<TAB>SUBTYPES``) or plain ``CODE<TAB>SUBTYPES``."""
    codes: dict[str, str] = {}
    for _number, line in _data_lines(path):
        match = _MAC_LINE.match(line)
        if match:  # header lines ("LAST UPDATED", "CODE SUBTYPE") do not match
            codes[match.group(1)] = match.group(2)
    if not codes:
        raise ReferenceFileError(f"{path}: no 'CODE<TAB>subtype/subtype' lines")
    return MacTable(codes)


def _read_tce(path: Path) -> dict[str, int]:
    groups: dict[str, int] = {}
    for number, line in _data_lines(path):
        parts = line.replace(";", "\t").split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ReferenceFileError(f"{path}:{number}: expected 'DPB1*allele<TAB>group', got {line!r}")
        groups[_two_fields(parts[0].split("*")[-1])] = int(parts[1])
    return groups


def _read_tce_csv(path: Path) -> dict[str, int]:
    """IPD-IMGT/HLA ``tce/dpb_tce.csv``: ``Allele,Protein,V1_Assignment,V2_Assignment[,V3_...],Comments``.
    The latest assignment version the file has is used (V2: Crivello et al. 2016, functional distance
    scores; V3 where published), per two-field protein; nulls (``NA``, group 0) are left out."""
    rows = [line for _, line in _data_lines(path)]
    if not rows:
        raise ReferenceFileError(f"{path}: empty TCE file")
    table = list(csv.reader(rows))
    header = table[0]
    versions = [name for name in header if name.startswith("V") and name.endswith("_Assignment")]
    if "Protein" not in header or not versions:
        raise ReferenceFileError(f"{path}: expected columns Allele,Protein,V*_Assignment, got {header}")
    protein, column = header.index("Protein"), header.index(max(versions, key=lambda v: int(v[1:-11])))
    groups: dict[str, int] = {}
    for row in table[1:]:
        value = row[column].strip()[:1] if len(row) > column else ""
        name = row[protein].split("*")[-1]
        if value in ("1", "2", "3") and ":" in name:
            groups[_two_fields(name)] = int(value)
    return groups


def load_reference(
    data_dir: str | Path, *, mac_file: str | Path | None = None, cache_dir: str | Path | None = None
) -> Reference:
    """Read the IMGT/HLA, WMDA and NMDP files present in ``data_dir`` (any subset, plain or ``.gz``; see
    the module doc); ``mac_file`` adds an NMDP MAC table kept elsewhere. With ``cache_dir`` the parsed
    tables are kept there, keyed by the files' fingerprint, and read back from it next time."""
    root = Path(data_dir)
    if not root.is_dir():
        raise ReferenceFileError(f"{root}: not a directory of IMGT/HLA files")

    def read(name: str) -> Path | None:
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    tables = {name: path for name in _TABLE_FILES if (path := read(name))}
    mac_path = Path(mac_file) if mac_file is not None else None
    if mac_path is None:
        mac_path = next((p for p in (read(n) for n in _MAC_FILES) if p), None)
    elif not mac_path.is_file():
        raise ReferenceFileError(f"{mac_path}: no such MAC file")
    if mac_path is None and not tables:
        raise ReferenceFileError(f"{root}: holds none of {', '.join(_TABLE_FILES + _MAC_FILES)}")
    used = sorted(tables.values()) + ([mac_path] if mac_path else [])
    digest = hashlib.sha256()
    for path in used:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    fingerprint = digest.hexdigest()[:16]
    cache = _cache_path(Path(cache_dir), fingerprint) if cache_dir is not None else None
    if cache is not None:
        cached = _read_cache(cache)
        if cached is not None:
            return cached
    p = tables.get
    serology, allele_serology = _read_rel_dna_ser(path) if (path := p("rel_dna_ser.txt")) else ({}, {})
    splits, associated = _read_rel_ser_ser(path) if (path := p("rel_ser_ser.txt")) else ({}, {})
    reference = Reference(
        alleles=_read_alleles(path) if (path := p(_ALLELE_FILE)) else {},
        p_groups=_read_groups(path, "P") if (path := p("hla_nom_p.txt")) else {},
        g_groups=_read_groups(path, "G") if (path := p("hla_nom_g.txt")) else {},
        serology=serology,
        splits=splits,
        mac=_read_mac(mac_path) if mac_path else {},
        tce=(
            _read_tce_csv(path)
            if (path := p("dpb_tce.csv"))
            else _read_tce(path)
            if (path := p("dpb1_tce.txt"))
            else {}
        ),
        allele_serology=allele_serology,
        associated=associated,
        history=_read_history(path) if (path := p("hla_nom.txt")) else {},
        old_names=_read_old_names(path) if (path := p("Nomenclature_2009.txt")) else {},
        release=next((r for r in map(_release_of, tables.values()) if r), ""),
        files=tuple(str(path) for path in used),
        fingerprint=fingerprint,
    )
    if cache is not None:
        _write_cache(cache, reference)
    return reference


def _cache_path(cache_dir: Path, fingerprint: str) -> Path:
    python = f"py{sys.version_info.major}{sys.version_info.minor}"  # marshal's format follows Python
    return cache_dir / f"hla-reference-{fingerprint}-v{_CACHE_FORMAT}-{python}.marshal"


def _stored_fields() -> list[str]:
    return [f.name for f in fields(Reference) if f.init]


_DERIVED = ("_p_of_protein", "_prefix_null")


def _read_cache(path: Path) -> Reference | None:
    """The tables as :func:`_write_cache` left them, with the lookups ``__post_init__`` derives (so a warm
    load skips that work too); None if absent or unreadable (then re-parsed)."""
    try:
        state: Any = marshal.loads(path.read_bytes())
        reference = object.__new__(Reference)
        for name in _stored_fields():
            object.__setattr__(reference, name, MacTable(state[name]) if name == "mac" else state[name])
        for name in _DERIVED:
            object.__setattr__(reference, name, state[name])
        for name in ("cache", "_antigens_by_prefix", "_relatives"):
            object.__setattr__(reference, name, {})
        return reference
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None


def _write_cache(path: Path, reference: Reference) -> None:
    """Plain dicts, tuples and frozensets in marshal form (no code is ever loaded from it)."""
    state = {name: _plain(getattr(reference, name)) for name in (*_stored_fields(), *_DERIVED)}
    mac = reference.mac
    state["mac"] = mac.raw if isinstance(mac, MacTable) else {code: "/".join(v) for code, v in mac.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(marshal.dumps(state))
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only var dir: the tables are parsed each time, which is only slower


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value
