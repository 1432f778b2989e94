"""Optional IMGT/HLA and NMDP tables that sharpen nomenclature and grading.

Without a :class:`Reference` (or with ``Reference()``), typings are read by syntax alone: ``allele``
means the first two fields agree and serology is compared by its allele group. ``load_reference(dir)``
reads whichever of these files the directory holds, each in its published format:

==================  ==============================================================================
``Allelelist.txt``  IMGT/HLA allele list (``AlleleID,Allele`` CSV): unknown names become errors.
``hla_nom_p.txt``   WMDA P groups (``A*;02:01:01:01/.../02:09;02:01P``): ``allele`` means same P group.
``hla_nom_g.txt``   WMDA G groups (``A*;01:01:01:01/...;01:01:01G``): ``A*01:01:01G`` typings.
``rel_dna_ser.txt`` WMDA allele -> serological equivalents (``A*;23:01:01;23;;;``).
``rel_ser_ser.txt`` WMDA broad -> splits and associated antigens (``A;9;23/24;``).
``numer.v3.txt``    NMDP multiple allele codes (``AB<TAB>01/02``); ``alpha.v3.txt`` or ``mac.txt``
                    (``code<TAB>alleles``) are read the same way.
``dpb1_tce.txt``    DPB1 T-cell-epitope groups (``DPB1*09:01<TAB>1``), lowest-priority extra.
==================  ==============================================================================
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hla.errors import ReferenceFileError

__all__ = ["Reference", "load_reference"]

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
    fingerprint: str = "none"
    """Digest of the loaded files, so a saved index is not read with other tables."""
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


def _data_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if line and not line.startswith("#"):
                    yield number, line
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceFileError(f"{path}: cannot be read ({exc})") from exc


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


def _read_rel_dna_ser(path: Path) -> dict[str, dict[str, frozenset[str]]]:
    """WMDA rel_dna_ser: ``locus*;allele;unambiguous;possible;assumed;expert``; 0 = null, ? = unknown."""
    found: dict[str, dict[str, set[str]]] = {}
    for number, line in _data_lines(path):
        parts = line.split(";")
        if len(parts) < 3:
            raise ReferenceFileError(f"{path}:{number}: expected 'locus*;allele;antigen;...', got {line!r}")
        locus = _file_locus(path, number, parts[0])
        if not locus or parts[1].endswith("N"):
            continue
        for column in parts[2:6]:
            for antigen in column.split("/"):
                if antigen.isdigit() and antigen != "0":
                    found.setdefault(locus, {}).setdefault(antigen, set()).add(parts[1])
    return {loc: {ag: frozenset(a) for ag, a in table.items()} for loc, table in found.items()}


def _read_rel_ser_ser(path: Path) -> dict[str, dict[str, frozenset[str]]]:
    """WMDA rel_ser_ser: ``locus;antigen;splits;associated`` (``A;9;23/24;``, ``A;2;;203/210``)."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    for number, line in _data_lines(path):
        parts = line.split(";") + ["", ""]
        locus = _file_locus(path, number, parts[0])
        if not parts[1].isdigit():
            raise ReferenceFileError(f"{path}:{number}: expected 'locus;antigen;splits;associated'")
        if locus:
            children = {c for c in (parts[2] + "/" + parts[3]).split("/") if c.isdigit()}
            found.setdefault(locus, {})[parts[1]] = frozenset(children)
    return found


def _read_mac(path: Path) -> dict[str, tuple[str, ...]]:
    """NMDP numer.v3/alpha.v3 (headers, then ``[*]<TAB>CODE<TAB>SUBTYPES``) or plain ``CODE<TAB>SUBTYPES``."""
    codes: dict[str, tuple[str, ...]] = {}
    for _number, line in _data_lines(path):
        match = _MAC_LINE.match(line)
        if match:  # header lines ("LAST UPDATED", "CODE SUBTYPE") do not match
            codes[match.group(1)] = tuple(s for s in match.group(2).split("/") if s)
    if not codes:
        raise ReferenceFileError(f"{path}: no 'CODE<TAB>subtype/subtype' lines")
    return codes


def _read_tce(path: Path) -> dict[str, int]:
    groups: dict[str, int] = {}
    for number, line in _data_lines(path):
        parts = line.replace(";", "\t").split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ReferenceFileError(f"{path}:{number}: expected 'DPB1*allele<TAB>group', got {line!r}")
        groups[_two_fields(parts[0].split("*")[-1])] = int(parts[1])
    return groups


def load_reference(data_dir: str | Path) -> Reference:
    """Read the IMGT/HLA, WMDA and NMDP files present in ``data_dir`` (any subset; see module doc)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise ReferenceFileError(f"{root}: not a directory of IMGT/HLA files")
    digest = hashlib.sha256()
    present = sorted(p for p in root.iterdir() if p.is_file())
    for path in present:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())

    def read(name: str) -> Path | None:
        path = root / name
        return path if path.is_file() else None

    mac_path = next((p for p in (read(n) for n in _MAC_FILES) if p), None)
    names = (
        _ALLELE_FILE,
        "hla_nom_p.txt",
        "hla_nom_g.txt",
        "rel_dna_ser.txt",
        "rel_ser_ser.txt",
        "dpb1_tce.txt",
    )
    if mac_path is None and not any(read(name) for name in names):
        raise ReferenceFileError(f"{root}: holds none of {', '.join(names + _MAC_FILES)}")
    return Reference(
        alleles=_read_alleles(p) if (p := read(_ALLELE_FILE)) else {},
        p_groups=_read_groups(p, "P") if (p := read("hla_nom_p.txt")) else {},
        g_groups=_read_groups(p, "G") if (p := read("hla_nom_g.txt")) else {},
        serology=_read_rel_dna_ser(p) if (p := read("rel_dna_ser.txt")) else {},
        splits=_read_rel_ser_ser(p) if (p := read("rel_ser_ser.txt")) else {},
        mac=_read_mac(mac_path) if mac_path else {},
        tce=_read_tce(p) if (p := read("dpb1_tce.txt")) else {},
        fingerprint=digest.hexdigest()[:16],
    )
