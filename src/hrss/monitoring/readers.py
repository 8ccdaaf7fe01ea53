"""Read tabular input files (CSV, XLSX) into rows, safely.

Each reader is a small class with one hook (`rows`), so a new format is one more
class. XLSX files are checked as zip archives before openpyxl parses them, against
`Limits`: entry count, each part's declared uncompressed size (zipfile never inflates a
part past its declared size, so this is the byte budget), the total and the compression
ratio, and a macro project found by its content type or relationship, whatever the part
is called. A template upload gets tight limits from the template's shape (tens of rows,
a few MB) and a time budget, so no upload can keep a worker busy. openpyxl uses
defusedxml when it is installed, which it is, so entity-expansion workbooks are refused.
Messages name the file as the operator called it, never a path on the server.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

MiB = 1024 * 1024
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaproject"
VBA_RELATIONSHIP = "relationships/vbaproject"
MAX_MANIFEST = 1 * MiB  # [Content_Types].xml and .rels parts are read whole: keep them small


@dataclass(frozen=True)
class Limits:
    """What a workbook may hold before it is parsed (declared sizes) and while it is read."""

    max_entries: int = 2_000
    max_part_bytes: int = 200 * MiB  # one part, uncompressed, as declared
    max_total_bytes: int = 200 * MiB
    max_ratio: int = 200
    max_rows: int | None = None  # rows of the first sheet, header included
    max_cols: int | None = None  # cells read per row
    seconds: float | None = None  # wall-clock budget for reading the rows

    def for_template(self, rows: int, cols: int) -> Limits:
        return replace(self, max_rows=rows, max_cols=cols)


FILE_LIMITS = Limits()  # a bureau's data file: large is normal
TEMPLATE_LIMITS = Limits(max_entries=60, max_part_bytes=4 * MiB, max_total_bytes=12 * MiB, seconds=10.0)


class InputFileError(ValueError):
    """The file cannot be read at all (format, encoding, safety limits)."""


class Reader:
    suffixes: ClassVar[tuple[str, ...]] = ()

    def rows(self, path: Path, name: str | None = None) -> Iterator[tuple[int, list[object]]]:
        """Yield (row number as the operator sees it, cells), header first. name is the
        file's name as its sender called it (for messages), path where it is on disk."""
        raise NotImplementedError


class CsvReader(Reader):
    suffixes = (".csv",)

    def rows(self, path: Path, name: str | None = None) -> Iterator[tuple[int, list[object]]]:
        name = name or path.name
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise InputFileError(f"{name}: 无法识别文件编码 (unknown encoding)")
        n = 0
        try:
            for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
                yield n, list(row)
        except csv.Error as exc:
            raise InputFileError(f"{name} 第{n + 1}行: CSV 格式错误 (malformed CSV): {exc}") from exc


def _mb(size: int) -> str:
    return f"{size / MiB:.1f} MB"


def check_zip(path: Path, limits: Limits = FILE_LIMITS, name: str | None = None) -> None:
    """Refuse, from the zip directory alone, a workbook too big, too packed or with macros."""
    name = name or path.name
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise InputFileError(f"{name}: 压缩包条目过多 (too many zip entries: {len(infos)})")
            for info in infos:
                if info.file_size > limits.max_part_bytes:
                    raise InputFileError(
                        f"{name}: 部件 {info.filename[:60]} 解压后 {_mb(info.file_size)}，超过 {_mb(limits.max_part_bytes)} 上限，"
                        f"疑似压缩炸弹或并非本系统的模板 (a part is larger than the limit)")
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            if total > limits.max_total_bytes or total / packed > limits.max_ratio:
                raise InputFileError(f"{name}: 解压后体积异常（{_mb(total)}），疑似压缩炸弹 (suspicious uncompressed size)")
            _refuse_macros(zf, infos, name)
            if limits.max_rows:
                for info in infos:
                    if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                        _count_sheet(zf, info, limits, name)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{name}: 不是有效的 .xlsx 文件 (not a valid .xlsx file)") from exc


ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")
CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")


def _count_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, name: str) -> None:
    """Count a sheet's rows and cells in its raw XML (fast, bounded by the part limit) before
    any parser builds them: a sheet's <dimension> may lie or be missing."""
    xml = zf.read(info)
    rows = len(ROW_TAG.findall(xml))
    if limits.max_rows and rows > limits.max_rows:
        raise InputFileError(f"{name}: 工作表有 {rows} 行，模板最多 {limits.max_rows} 行，"
                             "请使用本页下载的模板 (more rows than the template has)")
    cells = len(CELL_TAG.findall(xml))
    if limits.max_rows and limits.max_cols and cells > limits.max_rows * limits.max_cols:
        raise InputFileError(f"{name}: 工作表有 {cells} 个单元格，超出模板的范围，请使用本页下载的模板 (more cells than the template has)")


def _refuse_macros(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str) -> None:
    """A VBA project is found by what the package declares it to be, not by its part name."""
    refused = InputFileError(f"{name}: 不接受含宏的工作簿 (macro-enabled workbooks are refused)")
    for info in infos:
        lower = info.filename.lower()
        if lower.endswith("vbaproject.bin"):
            raise refused
        if lower == "[content_types].xml" or lower.endswith(".rels"):
            if info.file_size > MAX_MANIFEST:
                raise InputFileError(f"{name}: 部件 {info.filename[:60]} 过大 (package manifest too large)")
            text = zf.read(info).decode("utf-8", "replace").lower()
            if VBA_CONTENT_TYPE in text or VBA_RELATIONSHIP in text or "macroenabled" in text:
                raise refused


class XlsxReader(Reader):
    suffixes = (".xlsx",)

    def __init__(self, limits: Limits = FILE_LIMITS) -> None:
        self.limits = limits

    def rows(self, path: Path, name: str | None = None) -> Iterator[tuple[int, list[object]]]:
        import openpyxl

        name, limits = name or path.name, self.limits
        with path.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                raise InputFileError(f"{name}: 文件内容不是 .xlsx (content is not .xlsx)")
        check_zip(path, limits, name)
        with path.open("rb") as fh:  # ours to close, also when openpyxl gives up half-way
            yield from self._rows(openpyxl, fh, name, limits)

    @staticmethod
    def _rows(openpyxl: Any, fh: BinaryIO, name: str, limits: Limits) -> Iterator[tuple[int, list[object]]]:
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many types for corrupt files; its text may hold paths
            raise InputFileError(f"{name}: 无法读取工作簿 (cannot read workbook: {type(exc).__name__})") from exc
        n = 0
        try:
            ws = wb.worksheets[0]
            deadline = time.monotonic() + limits.seconds if limits.seconds else None
            rows = ws.iter_rows(values_only=True, max_col=limits.max_cols,
                                max_row=limits.max_rows + 1 if limits.max_rows else None)
            for n, row in enumerate(rows, start=1):
                if limits.max_rows and n > limits.max_rows:
                    raise InputFileError(f"{name}: 超过模板的 {limits.max_rows} 行，请使用本页下载的模板 (more rows than the template has)")
                if deadline and time.monotonic() > deadline:
                    raise InputFileError(f"{name}: 读取超过 {limits.seconds:g} 秒，已停止；请使用本页下载的模板 (took too long)")
                yield n, list(row)
        except InputFileError:
            raise
        except Exception as exc:  # read-only openpyxl parses lazily: corrupt XML surfaces here
            raise InputFileError(f"{name} 第{n + 1}行: 工作表内容损坏 (corrupt worksheet): {type(exc).__name__}") from exc
        finally:
            wb.close()


READERS: tuple[Reader, ...] = (CsvReader(), XlsxReader())


def reader_for(path: Path) -> Reader:
    for reader in READERS:
        if path.suffix.lower() in reader.suffixes:
            return reader
    raise InputFileError(f"{path.name}: 只接受 .csv 或 .xlsx 文件 (only .csv and .xlsx are accepted)")
