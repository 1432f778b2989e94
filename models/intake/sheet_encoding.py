"""A CSV sheet's text encoding: a BOM, else UTF-8, else a GB encoding detected; anything else is refused."""

from __future__ import annotations

import codecs

import charset_normalizer

from models.core import SheetError

__all__ = ["decode_sheet_text"]


_BOMS = (  # longest first: the UTF-32 LE BOM begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_GB_ENCODINGS = frozenset({"gb2312", "gbk", "gb18030", "hz"})


def decode_sheet_text(data: bytes, name: str) -> tuple[str, str]:
    """UTF-8 (BOM optional), UTF-16/32 with a BOM (Excel's "Unicode text"), else GBK/GB18030; nothing else.

    Without a BOM, UTF-16 is only a guess (charset-normalizer gets it right on some files, not others):
    refused outright rather than read as garbage and reported as missing columns.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding.replace("-le", "").replace("-be", "")
            except UnicodeDecodeError:
                raise SheetError(_encoding_refused(name)) from None
    sample = data[:4096]
    # Every other byte NUL: UTF-16 (or 32) without a BOM. Checked before UTF-8, which ASCII-heavy UTF-16
    # passes (NUL is valid UTF-8); a NUL or two in a cell stays a per-row problem, not the file's.
    if sample.count(0) * 8 >= len(sample):
        raise SheetError(_encoding_refused(name))
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    matches = list(charset_normalizer.from_bytes(data))
    # On short Chinese text charset-normalizer often ranks Big5 or a Japanese/Korean code page first while
    # GB18030 also decodes cleanly; for a mainland registry GBK is by far the likelier, so prefer it.
    if not any(match.encoding in _GB_ENCODINGS for match in matches):
        raise SheetError(_encoding_refused(name))
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise SheetError(_encoding_refused(name)) from exc


def _encoding_refused(name: str) -> str:
    return (
        f"{name}: the file's encoding could not be read; accepted: UTF-8 (with or without BOM), "
        "GBK/GB18030, UTF-16 with BOM. Save it as UTF-8"
    )
