"""Hostile uploads against a running server: each is refused fast, the server keeps answering.

A district operator uploads workbooks built to hurt: a million rows, a sheet that lies
about its size, a zip bomb padded under the ratio limit, a macro project stored under a
picture's name, a corrupt sheet; parts that openpyxl parses whole before the first row
(shared strings, styles, the sheet list, a chart sheet); a sheet moved where a name-based
check would not look, or written in UTF-16, or with one endless row or endless markup; a
zip that is encrypted, damaged or compressed in a way Excel never writes. Each must be
refused in well under 2 s with a Chinese message that names the file as uploaded (never a
path on the server), while /login keeps answering in < 200 ms, and the store must not change.
"""

from __future__ import annotations

import io
import random
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx2
import openpyxl
import pytest
from sqlalchemy import func, select

from hrss.auth.service import create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.readers import FILE_LIMITS, TEMPLATE_LIMITS, InputFileError, XlsxReader
from hrss.monitoring.tables import PendingValue, Submission, ValueRecord
from hrss.monitoring.template import HEADER, SPARE_ROWS
from hrss.monitoring.values import MAX_SHOWN, validate_rows
from hrss.plan.planfile import load_plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token, running

SHEET = "xl/worksheets/sheet1.xml"
HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')


@dataclass
class World:
    base: str
    url: str
    client: httpx2.Client


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'hostile.sqlite3'}"
    settings = Settings(database_url=url)
    engine = make_engine(url)
    plan = prepare_store(engine)
    with transaction(engine) as s:
        create_user(s, username="peixian", display_name="沛县填报员", role="district_operator", org_unit="沛县",
                    plan=plan, settings=settings, password=PASSWORD)
    engine.dispose()
    with running(create_app(settings)) as base, httpx2.Client(base_url=base, timeout=60) as client:
        form = client.get("/login")
        done = client.post("/login", data={"username": "peixian", "password": PASSWORD, "csrf_token": csrf_token(form.text)})
        assert done.status_code == 303, done.text
        yield World(base, url, client)


def _template(w: World) -> bytes:
    got = w.client.get("/entry/template.xlsx", params={"org": "沛县", "period": "2024-05"})
    assert got.status_code == 200
    return got.content


Part = bytes | Callable[[], Iterator[bytes]] | None


def _rewrite(xlsx: bytes, parts: dict[str, Part], types: str = "") -> bytes:
    """The workbook with some parts replaced, added (streamed when a part is a generator) or
    dropped (None); types is added to [Content_Types].xml."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in parts:
                continue
            data = src.read(info)
            if info.filename == "[Content_Types].xml" and types:
                data = data.replace(b"</Types>", types.encode() + b"</Types>")
            dst.writestr(info.filename, data)
        for name, body in parts.items():
            if body is None:
                continue
            if callable(body):
                with dst.open(name, "w", force_zip64=True) as fh:
                    for chunk in body():
                        fh.write(chunk)
            else:
                dst.writestr(name, body)
    return out.getvalue()


def _part(xlsx: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        return zf.read(name)


def _noise(size: int) -> bytes:
    """Incompressible bytes (a picture, say) that keep a package under the ratio limit."""
    return random.Random(size).randbytes(size)


def _rows(n: int, dimension: bool | str = True, padding: int = 0) -> Callable[[], Iterator[bytes]]:
    """A sheet of a header and n rows; dimension: the true one, a false one (str) or none."""
    def gen() -> Iterator[bytes]:
        header = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in ("指标", "指标名称", "地区", "期间", "计量单位", "数值"))
        ref = f"A1:H{n + 1}" if dimension is True else dimension
        yield (HEAD + (f'<dimension ref="{ref}"/>' if ref else "") + f"<sheetData><row>{header}</row>").encode()
        batch = []
        for _ in range(n):
            # no r attributes (they are optional): identical rows compress like the real attack's
            batch.append('<row><c t="inlineStr"><is><t>X99</t></is></c><c/><c/><c/><c/><c><v>1</v></c></row>')
            if len(batch) == 5000:
                yield "".join(batch).encode()
                batch = []
        yield ("".join(batch) + "</sheetData>" + " " * padding + "</worksheet>").encode()
    return gen


def _sheet(rows: str = "", after: str = "", decl: str = "UTF-8") -> str:
    """A sheet of the header row, then rows (XML) in sheetData, then after (XML) outside it."""
    header = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in ("指标", "指标名称", "地区", "期间", "计量单位", "数值"))
    return HEAD.replace("UTF-8", decl) + f"<sheetData><row>{header}</row>{rows}</sheetData>{after}</worksheet>"


def _moved(template: bytes, to: str, sheet: bytes) -> bytes:
    """The template with its sheet at another name, found through the workbook's relationships."""
    old, new = f"/{SHEET}".encode(), f"/{to}".encode()
    return _rewrite(template, {
        SHEET: None, to: sheet, "xl/media/image1.png": _noise(64 * 1024),
        "xl/_rels/workbook.xml.rels": _part(template, "xl/_rels/workbook.xml.rels").replace(old, new),
        "[Content_Types].xml": _part(template, "[Content_Types].xml").replace(old, new),
    })


def _zip_entry(xlsx: bytes, part: str, *, flags: int = 0, method: int | None = None, corrupt: bool = False) -> bytes:
    """The package with one entry's flag bits and compression method changed, in its local
    header and its central directory record alike, or its compressed data made undecodable."""
    data = bytearray(xlsx)
    u16 = lambda at: int.from_bytes(data[at : at + 2], "little")  # noqa: E731
    u32 = lambda at: int.from_bytes(data[at : at + 4], "little")  # noqa: E731
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        local = zf.getinfo(part).header_offset
    end = data.rindex(b"PK\x05\x06")
    central = u32(end + 16)
    while u32(central + 42) != local:  # walk the central directory to this entry's record
        central += 46 + u16(central + 28) + u16(central + 30) + u16(central + 32)
    for flag_at, method_at in ((local + 6, local + 8), (central + 8, central + 10)):
        data[flag_at] |= flags
        if method is not None:
            data[method_at : method_at + 2] = method.to_bytes(2, "little")
    if corrupt:  # the first deflate block claims the reserved type 3: zlib refuses it
        data[local + 30 + u16(local + 26) + u16(local + 28)] = 0xFF
    return bytes(data)


def _store(w: World) -> tuple[int, int, int]:
    engine = make_engine(w.url)
    with transaction(engine) as s:
        counts = tuple(s.execute(select(func.count()).select_from(t)).scalar_one() for t in (Submission, PendingValue, ValueRecord))
    engine.dispose()
    return counts  # type: ignore[return-value]


def _upload_while_signing_in(w: World, name: str, body: bytes) -> tuple[httpx2.Response, float, list[float]]:
    """Upload body; meanwhile time GET /login from a second client. Returns the answer, its time and the /login times."""
    page = w.client.get("/entry", params={"org": "沛县", "period": "2024-05"})
    data = {"csrf_token": csrf_token(page.text), "org": "沛县", "period": "2024-05", "version": "0"}
    answer: list[httpx2.Response] = []
    took: list[float] = []

    def upload() -> None:
        started = time.perf_counter()
        answer.append(w.client.post("/entry/upload", data=data, files={"file": (name, body, "application/octet-stream")}))
        took.append(time.perf_counter() - started)

    thread = threading.Thread(target=upload)
    logins: list[float] = []
    with httpx2.Client(base_url=w.base, timeout=10) as other:
        thread.start()
        while thread.is_alive():
            started = time.perf_counter()
            assert other.get("/login").status_code == 200
            logins.append(time.perf_counter() - started)
            time.sleep(0.02)
        thread.join()
    return answer[0], took[0], logins


MiB = 1024 * 1024
NEARLY_4MB = 4 * MiB - 64 * 1024  # under the template's part limit
TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml."
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _rich_text(size: int) -> bytes:
    """A shared-string table of about size bytes of rich text (runs of bold hex words)."""
    rng = random.Random(0)
    out = ['<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">']
    n = len(out[0])
    while n < size - 200:
        out.append("<si>" + "".join(f"<r><rPr><b/></rPr><t>{rng.randrange(65536):04x}</t></r>" for _ in range(3)) + "</si>")
        n += len(out[-1])
    return ("".join(out) + "</sst>").encode()


def _corpus(template: bytes) -> dict[str, tuple[bytes, str]]:
    """case → (workbook, words the refusal must carry)."""
    # 1,000,000 rows of "X99,,,,,1" with a true dimension: 40+ MB of sheet XML in a small file
    million = _rewrite(template, {SHEET: _rows(1_000_000)})
    # 20,000 rows that fit the part limit, under a dimension that claims 10: the rows are
    # counted in the raw XML, whatever the sheet declares
    declared = _rewrite(template, {SHEET: _rows(20_000, dimension="A1:H10")})
    # the same rows, the dimension left out: counted all the same
    undeclared = _rewrite(template, {SHEET: _rows(20_000, dimension=False)})
    # a zip bomb under the ratio limit: 190 MB of sheet XML (padding compresses ~1000:1, so
    # the ratio test alone would not catch it once other parts are padded too)
    bomb = _rewrite(template, {SHEET: _rows(10, padding=190 * 1024 * 1024)})
    # a VBA project typed as such in [Content_Types].xml, stored under a picture's name
    macro = _rewrite(template, {"xl/media/image1.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 512},
                     types='<Override PartName="/xl/media/image1.bin" ContentType="application/vnd.ms-office.vbaProject"/>')
    corrupt = _rewrite(template, {SHEET: (HEAD + "<sheetData><row r='1'><c r='A1'").encode()})

    # parts openpyxl parses whole when it opens the workbook, before the first row is read:
    # 4 MB of rich text in the shared strings (a ~400 KB file), at the usual name and under
    # another name that only [Content_Types].xml gives away; 4 MB of styles; 4 MB of custom
    # document properties; a sheet list of 5,000 entries; chart sheets (each parsed whole,
    # with its drawings, once per entry)
    strings_type = f'<Override PartName="/{{}}" ContentType="{TYPES}sharedStrings+xml"/>'
    strings = _rewrite(template, {"xl/sharedStrings.xml": _rich_text(NEARLY_4MB)}, types=strings_type.format("xl/sharedStrings.xml"))
    strings_moved = _rewrite(template, {"xl/strings.bin": _rich_text(NEARLY_4MB)}, types=strings_type.format("xl/strings.bin"))
    styles_xml = _part(template, "xl/styles.xml").decode()
    at = styles_xml.index(">", styles_xml.index("<cellXfs")) + 1
    styles = _rewrite(template, {"xl/styles.xml": (styles_xml[:at] + '<xf numFmtId="0"/>' * (NEARLY_4MB // 18) + styles_xml[at:]).encode(),
                                 "xl/media/image1.png": _noise(64 * 1024)})
    workbook = _part(template, "xl/workbook.xml").decode()
    entries = "".join(f'<sheet name="s{i}" sheetId="{i + 2}" r:id="rId1"/>' for i in range(5_000))
    sheets = _rewrite(template, {"xl/workbook.xml": workbook.replace("</sheets>", entries + "</sheets>").replace(
        "<workbook ", f'<workbook xmlns:r="{RELS}" ', 1).encode()})
    prop = '<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{}" name="p{}"><vt:lpwstr>x</vt:lpwstr></property>'
    properties = _rewrite(template, {"docProps/custom.xml": (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        + "".join(prop.format(i + 2, i) for i in range(NEARLY_4MB // 120)) + "</Properties>").encode(),
        "xl/media/image1.png": _noise(64 * 1024)})
    charts = "".join(f'<sheet name="图表{i}" sheetId="{i + 2}" r:id="rIdChart"/>' for i in range(3))
    chartsheet = _rewrite(template, {
        "xl/workbook.xml": workbook.replace("</sheets>", charts + "</sheets>").replace("<workbook ", f'<workbook xmlns:r="{RELS}" ', 1).encode(),
        "xl/_rels/workbook.xml.rels": _part(template, "xl/_rels/workbook.xml.rels").replace(
            b"</Relationships>", f'<Relationship Type="{RELS}/chartsheet" Target="chartsheets/sheet1.xml" Id="rIdChart"/></Relationships>'.encode()),
        "xl/chartsheets/sheet1.xml": ('<chartsheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                      + "<sheetPr/>" * (NEARLY_4MB // 10) + "</chartsheet>").encode(),
        "xl/chartsheets/_rels/sheet1.xml.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>',
        "xl/media/image1.png": _noise(64 * 1024),
    }, types=f'<Override PartName="/xl/chartsheets/sheet1.xml" ContentType="{TYPES}chartsheet+xml"/>')

    # sheets a name-based count would miss or misread: one row of a million cells moved to
    # xl/data/s.xml or xl/Worksheets/ through the workbook's relationships; such a row in UTF-16;
    # a row of 1,000 cells (under the sheet's cell total); 10 rows, then 4 MB of merged ranges
    fat = _sheet("<row>" + "<c/>" * ((NEARLY_4MB - 1000) // 4) + "</row>")
    moved = _moved(template, "xl/data/s.xml", fat.encode())
    moved_case = _moved(template, "xl/Worksheets/sheet1.xml", fat.encode())
    utf16 = _rewrite(template, {SHEET: _sheet("<row>" + "<c/>" * ((NEARLY_4MB - 2000) // 8) + "</row>", decl="UTF-16").encode("utf-16"),
                                "xl/media/image1.png": _noise(64 * 1024)})
    wide = _rewrite(template, {SHEET: _sheet("<row>" + "<c/>" * 1_000 + "</row>").encode()})
    ten = "".join(f'<row><c t="inlineStr"><is><t>I0{i}</t></is></c></row>' for i in range(10))
    markup = _rewrite(template, {SHEET: _sheet(ten, "<mergeCells>" + '<mergeCell ref="A1:B2"/>' * ((NEARLY_4MB - 2000) // 24) + "</mergeCells>").encode(),
                                 "xl/media/image1.png": _noise(64 * 1024)})

    # zips Python's zipfile cannot read: the sheet encrypted (RuntimeError), its deflate
    # stream damaged (zlib.error), [Content_Types].xml in an unsupported method
    # (NotImplementedError), the styles damaged (read only by openpyxl)
    encrypted = _zip_entry(template, SHEET, flags=0x1)
    deflate = _zip_entry(template, SHEET, corrupt=True)
    method = _zip_entry(template, "[Content_Types].xml", method=99)
    deflate_styles = _zip_entry(template, "xl/styles.xml", corrupt=True)
    return {
        "million": (million, "解压后"),
        "declared": (declared, "工作表有 20001 行"),
        "undeclared": (undeclared, "工作表有 20001 行"),
        "bomb": (bomb, "解压后"),
        "macro": (macro, "不接受含宏的工作簿"),
        "corrupt": (corrupt, "无法读取工作簿"),
        "strings": (strings, "共享字符串部件 xl/sharedStrings.xml"),
        "strings-moved": (strings_moved, "共享字符串部件 xl/strings.bin"),
        "styles": (styles, "样式部件 xl/styles.xml"),
        "properties": (properties, "文档属性部件 docProps/custom.xml"),
        "sheets": (sheets, "工作簿有 5001 个工作表"),
        "chartsheet": (chartsheet, "不接受含图表工作表的工作簿"),
        "moved": (moved, "个 XML 标记"),
        "moved-case": (moved_case, "个 XML 标记"),
        "utf16": (utf16, "不是 UTF-8 编码"),
        "wide": (wide, "某一行有 1000 个单元格，模板每行最多"),
        "markup": (markup, "个 XML 标记"),
        "encrypted": (encrypted, "不是有效的 .xlsx 文件（已加密或已损坏）"),
        "deflate": (deflate, "不是有效的 .xlsx 文件（已加密或已损坏）"),
        "method": (method, "不是有效的 .xlsx 文件（已加密或已损坏）"),
        "deflate-styles": (deflate_styles, "不是有效的 .xlsx 文件（已加密或已损坏）"),
    }


def test_every_hostile_upload_is_refused_fast_and_the_server_keeps_answering(world: World) -> None:
    before = _store(world)
    for case, (body, words) in _corpus(_template(world)).items():
        got, took, logins = _upload_while_signing_in(world, f"{case}.xlsx", body)
        assert got.status_code == 400, (case, got.status_code)
        message = got.text.split('id="message"')[1].split("</p>")[0] if 'id="message"' in got.text else got.text[-3000:]
        assert words in message and f"{case}.xlsx" in message, (case, message)
        assert "/tmp" not in got.text and "upload.xlsx" not in got.text, case  # no server path, no temp name
        assert took < 2.0, (case, took)
        assert max(logins) < 0.2, (case, max(logins))
        assert _store(world) == before, case  # nothing stored, not even a draft


def test_validation_is_linear_and_keeps_the_first_200_problems() -> None:
    plan = load_plan()
    header = [(1, ["indicator", "org_unit", "period", "value"])]

    def bad(n: int) -> list[tuple[int, list[object]]]:
        return header + [(r, ["X99", "沛县", "2024-05", "1"]) for r in range(2, n + 2)]

    started = time.perf_counter()
    small = validate_rows(plan, bad(2_000), "bad.csv")
    small_time = time.perf_counter() - started
    started = time.perf_counter()
    big = validate_rows(plan, bad(20_000), "bad.csv")
    big_time = time.perf_counter() - started
    # 20,000 unknown indicators: the first 200 kept with their rows, 19,800 counted
    assert len(big.errors) == MAX_SHOWN == 200 and big.more == 20_000 - 200
    assert [p.row for p in big.errors[:3]] == [2, 3, 4] and "未知指标" in big.errors[0].message
    assert len(small.errors) == 200 and small.more == 1_800
    assert big_time < 30 * small_time  # 10 × the rows: about 10 × the time, not 100 ×


def _resaved(template: bytes) -> bytes:
    """The template as a spreadsheet program saves it again: text in a shared-string table,
    declarations with standalone="yes", rows with spans."""
    sheet = _part(template, SHEET).decode()
    strings: list[str] = []

    def shared(m: re.Match[str]) -> str:
        strings.append(m.group(3))
        return f'<c {m.group(1)}t="s"{m.group(2)}><v>{len(strings) - 1}</v></c>'

    sheet = re.sub(r'<c ([^>]*?)t="inlineStr"([^>]*)><is><t>([^<]*)</t></is></c>', shared, sheet)
    sheet = sheet.replace("<row ", '<row spans="1:8" ')
    decl = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    sst = (decl + f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
           f'uniqueCount="{len(strings)}">' + "".join(f"<si><t>{t}</t></si>" for t in strings) + "</sst>")
    return _rewrite(template, {
        SHEET: (decl + sheet).encode(), "xl/sharedStrings.xml": sst.encode(),
        "xl/_rels/workbook.xml.rels": _part(template, "xl/_rels/workbook.xml.rels").replace(
            b"</Relationships>", f'<Relationship Type="{RELS}/sharedStrings" Target="sharedStrings.xml" Id="rId9"/></Relationships>'.encode()),
    }, types=f'<Override PartName="/xl/sharedStrings.xml" ContentType="{TYPES}sharedStrings+xml"/>')


def test_real_templates_pass_the_checks(world: World, tmp_path: Path) -> None:
    """The limits leave real templates alone: as downloaded, and as saved again by a program
    that uses a shared-string table (every cell read back the same)."""
    template = tmp_path / "template.xlsx"
    template.write_bytes(_template(world))
    expected = list(XlsxReader(FILE_LIMITS).rows(template))
    limits = TEMPLATE_LIMITS.for_template(rows=len(expected) + SPARE_ROWS, cols=len(HEADER) + 4)  # as read_upload sets them
    resaved = tmp_path / "resaved.xlsx"
    resaved.write_bytes(_resaved(template.read_bytes()))
    assert b"<v>0</v>" in _part(resaved.read_bytes(), SHEET)  # the cells do refer to the table
    for path in (template, resaved):
        got = [(n, cells[: len(HEADER)]) for n, cells in XlsxReader(limits).rows(path)]
        assert got == [(n, cells[: len(HEADER)]) for n, cells in expected] and len(got) > 5, path.name


def test_the_time_budget_counts_opening_the_workbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """openpyxl parses parts whole while it opens a workbook: that time is spent from the
    budget too, though the rows then come fast."""
    wb = openpyxl.Workbook()
    wb.active.append(list(HEADER))
    path = tmp_path / "slow.xlsx"
    wb.save(path)
    load = openpyxl.load_workbook

    def slow_load(*args: object, **kwargs: object) -> object:
        time.sleep(0.3)
        return load(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", slow_load)
    limits = replace(TEMPLATE_LIMITS.for_template(rows=10, cols=12), seconds=0.2)
    with pytest.raises(InputFileError, match="slow.xlsx: 读取超过 0.2 秒"):
        list(XlsxReader(limits).rows(path))

