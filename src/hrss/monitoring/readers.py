"""Read tabular input files (CSV, XLSX) into rows, safely.

Each reader is a small class with one hook (`rows`), so a new format is one more
class. XLSX files are checked as zip archives before openpyxl parses them, against
`Limits`: entry count, each part's declared uncompressed size (zipfile never inflates a
part past its declared size, so this is the byte budget), the total and the compression
ratio, and a macro project found by its content type or relationship, whatever the part
is called. A zip that is encrypted, damaged or compressed in a way Excel never writes is
refused as not an .xlsx file, wherever zipfile or zlib trips over it.

A template upload gets tight limits from the template's shape (tens of rows, a few MB) and a
time budget that runs from before the workbook is opened (openpyxl's loading cannot be
interrupted, so what it loads is capped first), so no upload can keep a worker busy:
- the parts openpyxl parses whole when it opens a workbook, before the first row (shared
  strings, styles, document properties, the workbook part), each capped by declared size, found by usual name,
  content type or relationship type; at most a few sheet entries, and no chart sheet (each
  is parsed whole, drawings and charts too); links to other workbooks are not loaded;
- every part openpyxl could read as a sheet, found as openpyxl finds it (the workbook part's
  <sheet> entries through its relationships) and by content type, relationship type and
  usual name in any letter case, must be UTF-8 and is counted in its raw XML before any
  parser builds it: rows, cells per row and in all, and markup.
openpyxl parses sheets with defusedxml and other parts with lxml without entity resolution
(these checks parse manifests and the workbook part with defusedxml), so entity-expansion
workbooks do no harm. Messages name the file as the operator called it, never a path on the
server.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

KiB = 1024
MiB = 1024 * KiB
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaproject"
VBA_RELATIONSHIP = "relationships/vbaproject"
MAX_MANIFEST = 1 * MiB  # [Content_Types].xml and .rels parts are read whole: keep them small
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # all that Excel, WPS and LibreOffice write
# what zipfile and zlib raise for an encrypted part, an unsupported method, a damaged stream
ZIP_ERRORS = (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error)
XML_ERRORS = (ParseError, DefusedXmlException)


@dataclass(frozen=True)
class Limits:
    """What a workbook may hold before it is parsed (declared sizes) and while it is read."""

    max_entries: int = 2_000
    max_part_bytes: int = 200 * MiB  # one part, uncompressed, as declared
    max_total_bytes: int = 200 * MiB
    max_ratio: int = 200
    max_loaded_part_bytes: int | None = None  # shared strings, styles, properties, workbook part: each, as declared
    max_sheets: int | None = None  # sheet entries in the workbook part
    chart_sheets: bool = True  # openpyxl parses each whole on open, drawings and charts too, once per entry
    max_rows: int | None = None  # rows of any sheet, header included
    max_cols: int | None = None  # cells read per row (and allowed in any row of a sheet)
    seconds: float | None = None  # wall-clock budget for the whole read, from before the workbook is opened

    def for_template(self, rows: int, cols: int) -> Limits:
        return replace(self, max_rows=rows, max_cols=cols)


FILE_LIMITS = Limits()  # a bureau's data file: large is normal
TEMPLATE_LIMITS = Limits(max_entries=60, max_part_bytes=4 * MiB, max_total_bytes=12 * MiB,
                         max_loaded_part_bytes=256 * KiB, max_sheets=16, chart_sheets=False, seconds=10.0)


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


def _size(size: int) -> str:
    return f"{size / MiB:.1f} MB" if size >= MiB else f"{size / KiB:.0f} KB"


def _not_xlsx(name: str) -> str:
    return f"{name}: 不是有效的 .xlsx 文件（已加密或已损坏） (not a valid .xlsx file: encrypted or damaged)"


def check_zip(path: Path, limits: Limits = FILE_LIMITS, name: str | None = None) -> None:
    """Refuse, before openpyxl opens it, a workbook too big, too packed, unreadable or with
    macros: from the zip directory and the package manifests, and for a template (limits
    with max_rows) also from the workbook part and the raw XML of every sheet."""
    name = name or path.name
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise InputFileError(f"{name}: 压缩包条目过多 (too many zip entries: {len(infos)})")
            for info in infos:
                if info.flag_bits & 0x1 or info.compress_type not in ZIP_METHODS:
                    raise InputFileError(_not_xlsx(name))
                if info.file_size > limits.max_part_bytes:
                    raise InputFileError(
                        f"{name}: 部件 {info.filename[:60]} 解压后 {_size(info.file_size)}，超过 {_size(limits.max_part_bytes)} 上限，"
                        f"疑似压缩炸弹或并非本系统的模板 (a part is larger than the limit)")
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            if total > limits.max_total_bytes or total / packed > limits.max_ratio:
                raise InputFileError(f"{name}: 解压后体积异常（{_size(total)}），疑似压缩炸弹 (suspicious uncompressed size)")
            manifests = _manifests(zf, infos, name)
            _refuse_macros(manifests, infos, name)
            if limits.max_loaded_part_bytes or limits.max_rows:
                package = _Package.read(manifests, infos)
                _check_loaded_parts(package, limits, name)
                if limits.max_rows:
                    for info in _sheets(zf, package, limits, name):
                        _count_sheet(zf, info, limits, name)
    except ZIP_ERRORS as exc:
        raise InputFileError(_not_xlsx(name)) from exc
    except XML_ERRORS as exc:  # a manifest or the workbook part that no XML parser would accept
        raise InputFileError(f"{name}: 无法读取工作簿 (cannot read workbook: {type(exc).__name__})") from exc


def _manifests(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str) -> dict[str, bytes]:
    """[Content_Types].xml and the .rels parts, by part name, each checked for size before it is read."""
    found = {}
    for info in infos:
        lower = info.filename.lower()
        if lower == "[content_types].xml" or lower.endswith(".rels"):
            if info.file_size > MAX_MANIFEST:
                raise InputFileError(f"{name}: 部件 {info.filename[:60]} 过大 (package manifest too large)")
            found[info.filename] = zf.read(info)
    return found


def _refuse_macros(manifests: dict[str, bytes], infos: list[zipfile.ZipInfo], name: str) -> None:
    """A VBA project is found by what the package declares it to be, not by its part name."""
    refused = InputFileError(f"{name}: 不接受含宏的工作簿 (macro-enabled workbooks are refused)")
    if any(info.filename.lower().endswith("vbaproject.bin") for info in infos):
        raise refused
    for xml in manifests.values():
        text = xml.decode("utf-8", "replace").lower()
        if VBA_CONTENT_TYPE in text or VBA_RELATIONSHIP in text or "macroenabled" in text:
            raise refused


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass
class _Package:
    """What the manifests declare, part names lowercased without the leading "/" (OPC part
    names ignore case; zipfile and openpyxl do not, so each name maps to every entry that has it)."""

    infos: dict[str, list[zipfile.ZipInfo]]
    types: list[tuple[str, str]]  # (part, content type) of each [Content_Types].xml Override, duplicates too
    rels: dict[str, list[tuple[str, str, str]]]  # source part → (id, type, target) of its internal relationships

    @classmethod
    def read(cls, manifests: dict[str, bytes], infos: list[zipfile.ZipInfo]) -> _Package:
        package = cls({}, [], {})
        for info in infos:
            package.infos.setdefault(info.filename.lower(), []).append(info)
        for part, xml in manifests.items():
            root = fromstring(xml)
            if part.lower() == "[content_types].xml":
                for el in root.iter():
                    if _local(el.tag) == "Override":
                        package.types.append((el.get("PartName", "").lstrip("/").lower(), el.get("ContentType", "").lower()))
                continue
            # resolved as openpyxl does: relative to the folder above _rels/, or from the root
            parent = posixpath.dirname(posixpath.dirname(part))
            source = posixpath.join(parent, posixpath.basename(part).removesuffix(".rels")).lower()
            for el in root.iter():
                if _local(el.tag) != "Relationship" or el.get("TargetMode") == "External":
                    continue
                target = el.get("Target", "")
                target = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(parent, target))
                package.rels.setdefault(source, []).append((el.get("Id", ""), el.get("Type", "").lower(), target.lower()))
        return package

    def parts(self, content_type: str, rel_type: str, usual: str) -> set[str]:
        """Parts whose content type or relationship type ends so, and the part's usual name."""
        found = {p for p, ct in self.types if ct.endswith(content_type)}
        found |= {target for rels in self.rels.values() for _, kind, target in rels if kind.endswith(rel_type)}
        return found | {usual}

    def workbooks(self) -> set[str]:
        return self.parts(".main+xml", "/officedocument", "xl/workbook.xml")


# parsed whole by openpyxl when it opens a workbook: (name, English name, content type, relationship type, usual part)
LOADED_PARTS = (
    ("共享字符串", "shared strings", "sharedstrings+xml", "/sharedstrings", "xl/sharedstrings.xml"),
    ("样式", "styles", "styles+xml", "/styles", "xl/styles.xml"),
    ("文档属性", "document properties", "core-properties+xml", "/core-properties", "docprops/core.xml"),
    ("文档属性", "document properties", "custom-properties+xml", "/custom-properties", "docprops/custom.xml"),
)


def _check_loaded_parts(package: _Package, limits: Limits, name: str) -> None:
    cap = limits.max_loaded_part_bytes
    if not cap:
        return
    roles = [(zh, en, package.parts(content_type, rel_type, usual)) for zh, en, content_type, rel_type, usual in LOADED_PARTS]
    for zh, en, parts in [*roles, ("工作簿", "workbook", package.workbooks())]:
        for part in sorted(parts):
            for info in package.infos.get(part, []):
                if info.file_size > cap:
                    raise InputFileError(
                        f"{name}: {zh}部件 {info.filename[:60]} 解压后 {_size(info.file_size)}，超过 {_size(cap)} 上限，"
                        f"并非本系统的模板，请使用本页下载的模板 (the {en} part is larger than a template's)")


WORKSHEET_NAME = re.compile(r"xl/worksheets/[^/]+\.xml")  # lowercased


def _sheets(zf: zipfile.ZipFile, package: _Package, limits: Limits, name: str) -> list[zipfile.ZipInfo]:
    """Every entry openpyxl could read as a sheet: the targets of the workbook part's <sheet>
    entries (any relationship type, as openpyxl takes them), parts typed or related as a
    sheet, and parts at the usual place in any letter case. Counts the sheet entries and
    refuses chart sheets on the way."""
    found = {p for p, ct in package.types if ct.endswith("sheet+xml")}  # work-, chart-, dialog-, macrosheet
    found |= {target for rels in package.rels.values() for _, kind, target in rels if kind.endswith("sheet")}
    found |= {p for p in package.infos if WORKSHEET_NAME.fullmatch(p)}
    entries = 0
    for workbook in sorted(package.workbooks()):
        by_id = {rid: (kind, target) for rid, kind, target in package.rels.get(workbook, [])}
        for info in package.infos.get(workbook, []):
            for el in fromstring(zf.read(info)).iter():
                if _local(el.tag) != "sheet":
                    continue
                entries += 1
                rid = next((value for key, value in el.attrib.items() if key.endswith("}id")), "")
                kind, target = by_id.get(rid, ("", ""))
                if "chartsheet" in kind and not limits.chart_sheets:
                    raise InputFileError(f"{name}: 不接受含图表工作表的工作簿，请使用本页下载的模板 (chart sheets are refused)")
                found.add(target)
    if limits.max_sheets is not None and entries > limits.max_sheets:
        raise InputFileError(f"{name}: 工作簿有 {entries} 个工作表，超过 {limits.max_sheets} 个上限，"
                             "请使用本页下载的模板 (more sheets than the limit)")
    return [info for part in sorted(found) for info in package.infos.get(part, [])]


PREFIX = rb"(?:[\w.\-\x80-\xff]+:)?"  # any namespace prefix a parser accepts
ROW_TAG = re.compile(rb"<" + PREFIX + rb"row[\s>/]")
CELL_TAG = re.compile(rb"<" + PREFIX + rb"c[\s>/]")
SHEET_DATA_END = re.compile(rb"</" + PREFIX + rb"sheetData\s*>")
XML_ENCODING = re.compile(rb"\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
TAGS_PER_CELL = 8  # "<" in a cell's XML and its share of the row's: <c><is><t>…</t></is></c> has 6
SHEET_TAGS = 4_000  # "<" outside the cells: views, columns, protection, validations, page setup


def _count(tag: re.Pattern[bytes], xml: bytes, start: int = 0, stop: int | None = None) -> int:
    """Matches of tag in xml[start:stop], 256 KB at a time: re holds the GIL for a whole call,
    so the server's other threads run in between. Chunks end before a "<", which no tag spans."""
    stop, n = len(xml) if stop is None else stop, 0
    while start < stop:
        cut = xml.find(b"<", start + 256 * KiB, stop)
        cut = stop if cut < 0 else cut
        n += len(tag.findall(xml, start, cut))
        start = cut
    return n


def _count_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, name: str) -> None:
    """Check a sheet's encoding, and count its rows, markup and cells (per row and in all) in
    its raw XML (fast, bounded by the part limit) before any parser builds them: a sheet's
    <dimension> may lie or be missing, and the parser builds whatever markup a sheet holds."""
    xml = zf.read(info)
    declared = XML_ENCODING.match(xml.removeprefix(codecs.BOM_UTF8))
    if (xml[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in xml
            or (declared and declared.group(1).lower() != b"utf-8")):
        raise InputFileError(f"{name}: 工作表 {info.filename[:60]} 不是 UTF-8 编码，请使用本页下载的模板 (a sheet is not UTF-8 encoded)")
    rows = _count(ROW_TAG, xml)
    if limits.max_rows and rows > limits.max_rows:
        raise InputFileError(f"{name}: 工作表有 {rows} 行，模板最多 {limits.max_rows} 行，"
                             "请使用本页下载的模板 (more rows than the template has)")
    if limits.max_rows and limits.max_cols:  # cheap, and it keeps the cell counts below small
        tags = xml.count(b"<")
        if tags > limits.max_rows * limits.max_cols * TAGS_PER_CELL + SHEET_TAGS:
            raise InputFileError(f"{name}: 工作表有 {tags} 个 XML 标记，超出模板的范围，请使用本页下载的模板 (more markup than the template has)")
    if limits.max_cols and rows:
        starts = [m.start() for m in ROW_TAG.finditer(xml)]
        last = SHEET_DATA_END.search(xml, starts[-1])
        for start, stop in zip(starts, [*starts[1:], last.start() if last else len(xml)], strict=True):
            in_row = _count(CELL_TAG, xml, start, stop)
            if in_row > limits.max_cols:
                raise InputFileError(f"{name}: 工作表某一行有 {in_row} 个单元格，模板每行最多 {limits.max_cols} 个，"
                                     "请使用本页下载的模板 (a row has more cells than the template's)")
    if limits.max_rows and limits.max_cols:
        cells = _count(CELL_TAG, xml)
        if cells > limits.max_rows * limits.max_cols:
            raise InputFileError(f"{name}: 工作表有 {cells} 个单元格，超出模板的范围，请使用本页下载的模板 (more cells than the template has)")


class XlsxReader(Reader):
    suffixes = (".xlsx",)

    def __init__(self, limits: Limits = FILE_LIMITS) -> None:
        self.limits = limits

    def rows(self, path: Path, name: str | None = None) -> Iterator[tuple[int, list[object]]]:
        import openpyxl

        name, limits = name or path.name, self.limits
        deadline = time.monotonic() + limits.seconds if limits.seconds else None  # openpyxl's loading counts too
        with path.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                raise InputFileError(f"{name}: 文件内容不是 .xlsx (content is not .xlsx)")
        check_zip(path, limits, name)
        with path.open("rb") as fh:  # ours to close, also when openpyxl gives up half-way
            yield from self._rows(openpyxl, fh, name, limits, deadline)

    @staticmethod
    def _rows(openpyxl: Any, fh: BinaryIO, name: str, limits: Limits,
              deadline: float | None = None) -> Iterator[tuple[int, list[object]]]:
        def in_time() -> None:
            if deadline and time.monotonic() > deadline:
                raise InputFileError(f"{name}: 读取超过 {limits.seconds:g} 秒，已停止；请使用本页下载的模板 (took too long)")

        try:  # links to other workbooks are not needed for values, and are parsed whole if kept
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=False, keep_links=False)
        except ZIP_ERRORS as exc:
            raise InputFileError(_not_xlsx(name)) from exc
        except Exception as exc:  # openpyxl raises many types for corrupt files; its text may hold paths
            raise InputFileError(f"{name}: 无法读取工作簿 (cannot read workbook: {type(exc).__name__})") from exc
        n = 0
        try:
            in_time()
            ws = wb.worksheets[0]
            rows = ws.iter_rows(values_only=True, max_col=limits.max_cols,
                                max_row=limits.max_rows + 1 if limits.max_rows else None)
            for n, row in enumerate(rows, start=1):
                if limits.max_rows and n > limits.max_rows:
                    raise InputFileError(f"{name}: 超过模板的 {limits.max_rows} 行，请使用本页下载的模板 (more rows than the template has)")
                in_time()
                yield n, list(row)
            in_time()
        except InputFileError:
            raise
        except ZIP_ERRORS as exc:
            raise InputFileError(_not_xlsx(name)) from exc
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
