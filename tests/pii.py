"""Find people's names, phones and ID numbers in whatever Prefect and the app keep: files, a database
file's bytes, API answers, CLI output.

Linear in the size of what is scanned (10 k people × a 20 MB database file would take minutes with one
`in` per value): digit runs and runs of CJK characters are cut out of the text, and their windows looked
up in sets. JSON columns and result files hide text as `\\uXXXX` escapes and base64 (Prefect's result
records): both are decoded before the scan.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Finding", "PiiScanner"]

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_DIGITS = re.compile(r"[0-9Xx]{11,}")
_CJK = re.compile(r"[\u3400-\u9fff]{2,}")
_BASE64 = re.compile(rb"[A-Za-z0-9+/=\r\n]{64,}")


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str
    value: str


@dataclass
class PiiScanner:
    names: set[str] = field(default_factory=set)
    numbers: dict[str, str] = field(default_factory=dict)  # phone or ID number → "phone" / "id"

    def add(self, *, name: str, phone: str, national_id: str) -> None:
        self.names.add(name)
        self.numbers[phone] = "phone"
        self.numbers[national_id.upper()] = "id"

    # -- scanning ---------------------------------------------------------------------------------------
    def text(self, where: str, text: str) -> list[Finding]:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        found: set[Finding] = set()
        widths = sorted({len(number) for number in self.numbers})
        for run in _DIGITS.findall(text):
            run = run.upper()
            for width in widths:
                for start in range(len(run) - width + 1):
                    kind = self.numbers.get(run[start : start + width])
                    if kind:
                        found.add(Finding(where, kind, run[start : start + width]))
        lengths = sorted({len(name) for name in self.names})
        for run in _CJK.findall(text):
            for width in lengths:
                for start in range(len(run) - width + 1):
                    if run[start : start + width] in self.names:
                        found.add(Finding(where, "name", run[start : start + width]))
        return sorted(found, key=lambda f: (f.kind, f.value))

    def data(self, where: str, data: bytes) -> list[Finding]:
        """Raw bytes, plus every base64 payload in them decoded (pickled results inside result records)."""
        found = self.text(where, data.decode("utf-8", errors="replace"))
        # Inside a JSON string the line breaks of base64 are the two characters `\n`.
        for blob in _BASE64.findall(data.replace(b"\\n", b"")):
            try:
                decoded = base64.b64decode(blob, validate=False)
            except (binascii.Error, ValueError):
                continue
            found += self.text(f"{where} (base64)", decoded.decode("utf-8", errors="replace"))
        return found

    def files(self, root: Path) -> list[Finding]:
        found: list[Finding] = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            found += self.data(str(path), path.read_bytes())
        return found

    def json(self, where: str, payload: Any) -> list[Finding]:
        return self.text(where, json.dumps(payload, ensure_ascii=False, default=str))
