"""Read tabular input files (CSV, XLSX) into rows, safely.

Each reader is a small class with one hook (`rows`), so a new format is one more
class. XLSX files are checked as zip archives before openpyxl parses them (entry
count, total uncompressed size, compression ratio); openpyxl uses defusedxml when it
is installed, which it is, so entity-expansion workbooks are refused.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

MAX_ENTRIES = 2_000
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_RATIO = 200


class InputFileError(ValueError):
    """The file cannot be read at all (format, encoding, safety limits)."""


class Reader:
    suffixes: ClassVar[tuple[str, ...]] = ()

    def rows(self, path: Path) -> Iterator[tuple[int, list[object]]]:
        """Yield (row number as the operator sees it, cells), header first."""
        raise NotImplementedError


class CsvReader(Reader):
    suffixes = (".csv",)

    def rows(self, path: Path) -> Iterator[tuple[int, list[object]]]:
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise InputFileError(f"{path.name}: 无法识别文件编码 (unknown encoding)")
        n = 0
        try:
            for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
                yield n, list(row)
        except csv.Error as exc:
            raise InputFileError(f"{path.name} 第{n + 1}行: CSV 格式错误 (malformed CSV): {exc}") from exc


def check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{path.name}: 不是有效的 .xlsx 文件 (not a valid .xlsx file)") from exc
    if len(infos) > MAX_ENTRIES:
        raise InputFileError(f"{path.name}: 压缩包条目过多 (too many zip entries: {len(infos)})")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > MAX_UNCOMPRESSED or total / packed > MAX_RATIO:
        raise InputFileError(f"{path.name}: 解压后体积异常，疑似压缩炸弹 (suspicious uncompressed size)")
    names = {i.filename for i in infos}
    if "xl/vbaProject.bin" in names:
        raise InputFileError(f"{path.name}: 不接受含宏的工作簿 (macro-enabled workbooks are refused)")


class XlsxReader(Reader):
    suffixes = (".xlsx",)

    def rows(self, path: Path) -> Iterator[tuple[int, list[object]]]:
        import openpyxl

        with path.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                raise InputFileError(f"{path.name}: 文件内容不是 .xlsx (content is not .xlsx)")
        check_zip(path)
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many types for corrupt files
            raise InputFileError(f"{path.name}: 无法读取工作簿 (cannot read workbook): {exc}") from exc
        n = 0
        try:
            ws = wb.worksheets[0]
            for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
                yield n, list(row)
        except InputFileError:
            raise
        except Exception as exc:  # read-only openpyxl parses lazily: corrupt XML surfaces here
            raise InputFileError(f"{path.name} 第{n + 1}行: 工作表内容损坏 (corrupt worksheet): {type(exc).__name__}") from exc
        finally:
            wb.close()


READERS: tuple[Reader, ...] = (CsvReader(), XlsxReader())


def reader_for(path: Path) -> Reader:
    for reader in READERS:
        if path.suffix.lower() in reader.suffixes:
            return reader
    raise InputFileError(f"{path.name}: 只接受 .csv 或 .xlsx 文件 (only .csv and .xlsx are accepted)")
