"""Hostile uploads against a running server: each is refused fast, the server keeps answering.

A district operator uploads workbooks built to hurt: a million rows, a sheet that lies
about its size, a zip bomb padded under the ratio limit, a macro project stored under a
picture's name, a corrupt sheet. Each must be refused in well under 2 s with a Chinese
message that names the file as uploaded (never a path on the server), while /login keeps
answering in < 200 ms, and the store must not change.
"""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import uvicorn
from sqlalchemy import func, select

from hrss.auth.service import create_user
from hrss.db import make_engine, transaction
from hrss.monitoring.tables import PendingValue, Submission, ValueRecord
from hrss.monitoring.values import MAX_SHOWN, validate_rows
from hrss.plan.planfile import load_plan
from hrss.plan.store import prepare_store
from hrss.settings import Settings
from hrss.web.app import create_app
from web_helpers import PASSWORD, csrf_token

SHEET = "xl/worksheets/sheet1.xml"
HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx2.Client(base_url=base, timeout=60) as client:
        form = client.get("/login")
        done = client.post("/login", data={"username": "peixian", "password": PASSWORD, "csrf_token": csrf_token(form.text)})
        assert done.status_code == 303, done.text
        yield World(base, url, client)
    srv.should_exit = True
    thread.join(timeout=10)


def _template(w: World) -> bytes:
    got = w.client.get("/entry/template.xlsx", params={"org": "沛县", "period": "2024-05"})
    assert got.status_code == 200
    return got.content


def _rewrite(xlsx: bytes, parts: dict[str, bytes | Callable[[], Iterator[bytes]]], types: str = "") -> bytes:
    """The workbook with some parts replaced or added (streamed when a part is a generator);
    types is added to [Content_Types].xml."""
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
            if callable(body):
                with dst.open(name, "w", force_zip64=True) as fh:
                    for chunk in body():
                        fh.write(chunk)
            else:
                dst.writestr(name, body)
    return out.getvalue()


def _rows(n: int, dimension: bool = True, padding: int = 0) -> Callable[[], Iterator[bytes]]:
    def gen() -> Iterator[bytes]:
        header = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in ("指标", "指标名称", "地区", "期间", "计量单位", "数值"))
        yield (HEAD + (f'<dimension ref="A1:H{n + 1}"/>' if dimension else "") + f"<sheetData><row>{header}</row>").encode()
        batch = []
        for _ in range(n):
            # no r attributes (they are optional): identical rows compress like the real attack's
            batch.append('<row><c t="inlineStr"><is><t>X99</t></is></c><c/><c/><c/><c/><c><v>1</v></c></row>')
            if len(batch) == 5000:
                yield "".join(batch).encode()
                batch = []
        yield ("".join(batch) + "</sheetData>" + " " * padding + "</worksheet>").encode()
    return gen


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


def _corpus(template: bytes) -> dict[str, tuple[bytes, str]]:
    """case → (workbook, words the refusal must carry)."""
    # 1,000,000 rows of "X99,,,,,1" with a true dimension: 40+ MB of sheet XML in a small file
    million = _rewrite(template, {SHEET: _rows(1_000_000)})
    # 20,000 rows that fit the part limit: refused by the sheet's declared size
    declared = _rewrite(template, {SHEET: _rows(20_000)})
    # the same rows, the dimension left out: counted in the raw XML all the same
    undeclared = _rewrite(template, {SHEET: _rows(20_000, dimension=False)})
    # a zip bomb under the ratio limit: 190 MB of sheet XML (padding compresses ~1000:1, so
    # the ratio test alone would not catch it once other parts are padded too)
    bomb = _rewrite(template, {SHEET: _rows(10, padding=190 * 1024 * 1024)})
    # a VBA project typed as such in [Content_Types].xml, stored under a picture's name
    macro = _rewrite(template, {"xl/media/image1.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 512},
                     types='<Override PartName="/xl/media/image1.bin" ContentType="application/vnd.ms-office.vbaProject"/>')
    corrupt = _rewrite(template, {SHEET: (HEAD + "<sheetData><row r='1'><c r='A1'").encode()})
    return {
        "million": (million, "解压后"),
        "declared": (declared, "工作表有 20001 行"),
        "undeclared": (undeclared, "工作表有 20001 行"),
        "bomb": (bomb, "解压后"),
        "macro": (macro, "不接受含宏的工作簿"),
        "corrupt": (corrupt, "无法读取工作簿"),
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
