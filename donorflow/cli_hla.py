"""`donorflow hla tables | import-macs`: the HLA reference tables matching uses (issue 13).

By default the IPD-IMGT/HLA release shipped in the package (hla/data/<release>/, README.md there: source
and licence); DONORFLOW_HLA_DATA_DIR points at a newer release. The full NMDP MAC table is optional:
`import-macs` checks a file and keeps a copy under var/hla, which every later load includes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from donorflow import bootstrap

__all__ = ["hla_app"]

hla_app = typer.Typer(
    help="HLA 参考表 HLA reference tables (IPD-IMGT/HLA, NMDP codes).", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]

# zh-CN first: what a coordinator reads.
_COUNT_LABELS = {
    "alleles": "等位基因 alleles (Allelelist)",
    "p_groups": "P 组 P groups (hla_nom_p)",
    "g_groups": "G 组 G groups (hla_nom_g)",
    "alleles_with_serology": "有血清学对应的等位基因 alleles with serology (rel_dna_ser)",
    "serological_antigens": "血清学抗原 serological antigens (rel_dna_ser)",
    "broad_and_associated_antigens": "宽抗原与相关抗原 broad / associated antigens (rel_ser_ser)",
    "renamed_or_deleted_alleles": "已更名或删除的等位基因 renamed or deleted alleles (hla_nom)",
    "pre_2010_names": "2010 年前的旧命名 names before 2010 (Nomenclature_2009)",
    "mac_codes": "NMDP 多等位基因编码 NMDP MAC codes",
    "dpb1_tce": "DPB1 TCE 组 DPB1 TCE groups",
}


@hla_app.command("tables")
def tables(json_: JsonFlag = False) -> None:
    """显示已加载的 HLA 参考表 Show the HLA reference tables loaded: release, files, counts, cache."""
    import hla
    from donorflow.cli import _fail, _print_json, out

    settings = bootstrap.get_settings()
    begin = time.perf_counter()
    try:
        reference = bootstrap.hla_reference()
    except hla.HlaError as exc:
        _fail(f"参考表无法读取 reference tables cannot be read: {exc}", 1)
    seconds = time.perf_counter() - begin
    source = "DONORFLOW_HLA_DATA_DIR" if settings.hla_data_dir else "内置 shipped"
    cache = bootstrap.hla_cache_dir(settings)
    cached = sorted(cache.glob(f"hla-reference-{reference.fingerprint}-*.marshal"))
    summary = {
        "release": reference.release or "?",
        "source": source,
        "directory": str(settings.hla_data_dir or hla.SHIPPED_DIR),
        "files": list(reference.files),
        "counts": reference.counts(),
        "fingerprint": reference.fingerprint,
        "cache": str(cached[0]) if cached else None,
        "mac_imported": bootstrap.hla_mac_file(settings).is_file(),
        "load_ms": round(seconds * 1000, 1),
    }
    if json_:
        _print_json(summary)
        return
    table = Table(show_header=False, title="HLA 参考表 HLA reference tables")
    table.add_row("版本 release", f"IPD-IMGT/HLA {summary['release']} ({source})")
    table.add_row("目录 directory", str(summary["directory"]))
    for path in reference.files:
        table.add_row("文件 file", Path(path).name)
    counts = reference.counts()
    for key, label in _COUNT_LABELS.items():
        table.add_row(label, f"{counts[key]:,}")
    table.add_row("指纹 fingerprint", reference.fingerprint)
    table.add_row("缓存 cache", str(summary["cache"] or "无 none (var dir not writable?)"))
    if not summary["mac_imported"] and not reference.mac:
        table.add_row("MAC", "未导入 not imported: `donorflow hla import-macs FILE` (optional)")
    table.add_row("加载耗时 load time", f"{summary['load_ms']} ms")
    out.print(table)


@hla_app.command("import-macs")
def import_macs(
    path: Annotated[
        Path,
        typer.Argument(
            help="NMDP 编码表 The NMDP MAC file: numer.v3.txt, alpha.v3.txt or CODE<TAB>subtypes."
        ),
    ],
    json_: JsonFlag = False,
) -> None:
    """导入 NMDP 多等位基因编码表 Import the full NMDP multiple-allele-code table (optional)."""
    import hla
    from donorflow.cli import _fail, _print_json, out

    if not path.is_file():
        _fail(f"文件不存在 no such file: {path}", 2)
    try:
        count = bootstrap.import_hla_macs(path)
        reference = bootstrap.hla_reference()  # parse and cache now, not in the next search
    except hla.HlaError as exc:
        _fail(f"不是 NMDP 编码表 not an NMDP MAC file: {exc}", 1)
    if json_:
        _print_json({"codes": count, "kept_at": str(bootstrap.hla_mac_file()), "loaded": len(reference.mac)})
        return
    out.print(f"已导入 imported {count:,} 个编码 codes -> {bootstrap.hla_mac_file()}")
