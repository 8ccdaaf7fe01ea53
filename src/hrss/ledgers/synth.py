"""Synthetic real-name ledgers (实名制台账) for development, tests and load trials.

`generate(out_dir, scale, seed)` writes one Parquet file per ledger of
`hrss.ledgers.schema.LEDGERS`, plus `_dirt.parquet`: the rows made dirty on purpose
and how (the answer key for the data-quality report).

- People: Chinese names (surnames by their national frequencies, allocated exactly by
  largest remainder so the ranking is stable), valid resident ID numbers (Xuzhou
  region codes, ~10% from other provinces), birth dates 1950–2005.
- Employers: valid unified social credit codes (GB 32100) registered in Xuzhou.
- Events 2021-01..2025-12: counts per org unit, year and month follow the plan's annex
  targets (附件表1 employment, 2 rural transfers, 4 entrepreneurship with 5 for loans,
  9 graduates) times a scale factor, spread over months by a seasonal profile. A group
  row of an annex (主城区, 开发区) is split equally among its members.
- Dirt (default 2% of rows): bad check digits, duplicated rows, missing fields, ID
  numbers stored as floats, orphan events (unknown person), dates out of range.

Everything comes from one `random.Random(seed)`: the same seed gives the same rows.
Rows are produced as streams and written in chunks (`chunk_rows`), so `city` and
`province` scales do not hold the event ledgers in memory; the person register's ID
numbers are held (a set and per-unit lists) to keep IDs unique and let events refer
to them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hrss.ledgers.identifiers import CREDIT_ALPHABET, make_credit_code, make_resident_id
from hrss.ledgers.schema import DIRT_LEDGER, LEDGERS, Ledger, arrow_schema
from hrss.plan.model import Plan

# --- reference lists --------------------------------------------------------------

# The most common surnames with their share of the population in per cent (2020 census,
# rounded); the rest of the population is spread over these in proportion.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12), ("李", 7.00), ("张", 6.74), ("刘", 5.10), ("陈", 4.61), ("杨", 3.22),
    ("黄", 2.45), ("赵", 2.19), ("吴", 2.05), ("周", 1.94), ("徐", 1.65), ("孙", 1.54),
    ("马", 1.47), ("朱", 1.39), ("胡", 1.31), ("郭", 1.20), ("何", 1.19), ("林", 1.11),
    ("高", 1.08), ("罗", 1.07), ("郑", 0.98), ("梁", 0.96), ("谢", 0.86), ("宋", 0.81),
    ("唐", 0.80), ("许", 0.78), ("韩", 0.74), ("邓", 0.73), ("冯", 0.72), ("曹", 0.68),
    ("彭", 0.66), ("曾", 0.64), ("肖", 0.62), ("田", 0.60), ("董", 0.59), ("潘", 0.56),
    ("袁", 0.55), ("蔡", 0.53), ("蒋", 0.53), ("余", 0.50),
)  # fmt: skip
GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆亮峰建国志海东文博晨阳"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧莹倩琳颖洁梅萍红琴云兰凤欣悦佳雨婧怡晶"
GIVEN_COMMON = "子思嘉一梓宏德永春秋金玉新天安家"

# Region codes (地址码) for ID numbers: Xuzhou's counties and districts.
XUZHOU_REGIONS = (
    "320321", "320322", "320324", "320381", "320382",
    "320302", "320303", "320305", "320311", "320312",
)  # fmt: skip
# Other provinces' (prefecture-level) codes, for the ~10% of people from elsewhere.
OTHER_REGIONS = (
    "371302", "341302", "410102", "370102", "340104", "411402", "341602", "130102",
    "420102", "510104", "330102", "320102", "320506", "320812", "321302",
)  # fmt: skip
OTHER_PROVINCE_SHARE = 0.10
EDUCATION = (("初中及以下", 0.35), ("高中/中专", 0.28), ("大专", 0.18), ("本科", 0.16), ("研究生", 0.03))
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                  "152", "155", "157", "158", "159", "166", "177", "180", "181", "185", "187",
                  "188", "189", "199")  # fmt: skip
INDUSTRIES = (
    ("制造业", 0.30), ("批发和零售业", 0.22), ("建筑业", 0.10), ("交通运输、仓储和邮政业", 0.06),
    ("住宿和餐饮业", 0.07), ("信息传输、软件和信息技术服务业", 0.05), ("租赁和商务服务业", 0.07),
    ("居民服务、修理和其他服务业", 0.06), ("农、林、牧、渔业", 0.04), ("科学研究和技术服务业", 0.03),
)  # fmt: skip
INDUSTRY_WORDS = {"制造业": "机械制造", "批发和零售业": "商贸", "建筑业": "建设工程",
                  "交通运输、仓储和邮政业": "物流", "住宿和餐饮业": "餐饮管理",
                  "信息传输、软件和信息技术服务业": "信息科技", "租赁和商务服务业": "企业管理咨询",
                  "居民服务、修理和其他服务业": "家政服务", "农、林、牧、渔业": "农业发展",
                  "科学研究和技术服务业": "技术研究"}  # fmt: skip
SIZES = (("大型", 0.01), ("中型", 0.06), ("小型", 0.28), ("微型", 0.65))
FIRM_WORDS = "恒泰华盛鑫源宏达汇通金鼎瑞丰新锐佳禾荣昌永安彭城淮海汉韵云龙"

# Monthly profiles (January first): hiring peaks March–April, graduates June–September.
SEASONS: dict[str, tuple[float, ...]] = {
    "employment": (0.6, 0.8, 1.6, 1.5, 1.1, 1.0, 1.0, 0.9, 1.0, 0.9, 0.9, 0.7),
    "rural": (0.7, 1.4, 1.6, 1.2, 1.0, 0.9, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9),
    "entrepreneurship": (0.7, 0.8, 1.1, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1),
    "training": (0.5, 0.6, 1.1, 1.2, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1, 1.0, 0.9),
    "graduates": (0.4, 0.4, 0.5, 0.5, 0.8, 2.0, 2.3, 2.0, 1.5, 0.6, 0.5, 0.5),
}
UNEMPLOYMENT_RATIO = 0.25  # unemployment registrations per employment registration
TRAINING_RATIO = 0.6  # training attendances per employment registration (shares of 附件表1)
SUBSIDISED_SHARE = 0.8
LOAN_SHARE = 0.7  # entrepreneurs who draw a guaranteed loan
OUT_OF_RANGE_DATES = (date(2030, 1, 1), date(2099, 12, 31), date(1970, 1, 1))


@dataclass(frozen=True)
class Scale:
    persons: int
    enterprises: int
    event_factor: float  # events = annex target (persons) × this


SCALES: dict[str, Scale] = {
    "small": Scale(persons=20_000, enterprises=1_000, event_factor=0.08),
    "city": Scale(persons=10_000_000, enterprises=500_000, event_factor=85.0),
    "province": Scale(persons=85_000_000, enterprises=4_000_000, event_factor=700.0),
}

# --- helpers ----------------------------------------------------------------------


def largest_remainder(total: int, weights: dict[Any, float]) -> dict[Any, int]:
    """Split `total` into integers proportional to `weights` (Hamilton's method)."""
    wsum = sum(weights.values())
    if total <= 0 or wsum <= 0:
        return dict.fromkeys(weights, 0)
    exact = {k: total * w / wsum for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    short = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], str(k)))[:short]:
        counts[k] += 1
    return counts


def annex_shares(plan: Plan, table: str) -> dict[str, dict[int, float]]:
    """Org unit code → year → target of an annex table; group rows split equally."""
    deco = next(d for d in plan.decompositions if d.table == table)
    by_name = {u.name: u for u in plan.org_units}
    out: dict[str, dict[int, float]] = {}
    for row in deco.rows:
        unit = by_name[row.org_unit]
        members = [by_name[m] for m in unit.members] if unit.kind == "group" else [unit]
        for member in members:
            per_year = out.setdefault(member.code, {})
            for year, value in row.values.items():
                per_year[year] = per_year.get(year, 0.0) + value / len(members)
    return out


def _weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> Callable[[], str]:
    items = [p[0] for p in pairs]
    cum: list[float] = []
    acc = 0.0
    for _, w in pairs:
        acc += w
        cum.append(acc)
    return lambda: rng.choices(items, cum_weights=cum)[0]


def _bad_check(id_number: str) -> str:
    """The same number with a wrong last character."""
    chars = "0123456789X".replace(id_number[-1], "")
    return id_number[:-1] + chars[sum(map(ord, id_number)) % len(chars)]


def _as_float_text(id_number: str) -> str:
    """What a numeric spreadsheet cell makes of the number: '3.20382198001011e+17'."""
    return str(float(id_number[:17] + ("0" if id_number[-1] == "X" else id_number[-1])))


class _Dirt:
    """Decides which rows get dirty and records them in the manifest."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.rows: list[dict[str, Any]] = []

    def pick(self, kinds: tuple[str, ...]) -> str | None:
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        return self.rng.choice(kinds)

    def note(self, ledger: str, key: object, index: int, kind: str, column: str | None) -> None:
        self.rows.append(
            {"ledger": ledger, "row_key": None if key is None else str(key), "row_index": index,
             "kind": kind, "column": column}
        )  # fmt: skip


def _write(
    path: Path,
    ledger: Ledger,
    rows: Iterator[dict[str, Any]],
    chunk_rows: int,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Stream rows into a Parquet file, `chunk_rows` at a time; return the row count."""
    schema = arrow_schema(ledger)
    names = schema.names
    total = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        buffer: list[dict[str, Any]] = []

        def flush() -> None:
            cols = {n: [r[n] for r in buffer] for n in names}
            writer.write_table(pa.table(cols, schema=schema))
            if on_chunk:
                on_chunk(len(buffer))
            buffer.clear()

        for row in rows:
            buffer.append(row)
            if len(buffer) >= chunk_rows:
                total += len(buffer)
                flush()
        if buffer or total == 0:
            total += len(buffer)
            flush()
    return total


# --- the generator ----------------------------------------------------------------


@dataclass
class _World:
    """What event ledgers need from the registers."""

    pools: dict[str, list[str]]  # org unit code → clean ID numbers of its residents
    all_ids: set[str]
    employers: dict[str, list[str]]  # org unit code → credit codes
    all_employers: list[str]


class Generator:
    def __init__(
        self,
        plan: Plan,
        out_dir: Path,
        scale: Scale,
        seed: int = 0,
        dirt_rate: float = 0.02,
        chunk_rows: int = 500_000,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.plan = plan
        self.out = Path(out_dir)
        self.scale = scale
        self.rng = random.Random(seed)
        self.dirt = _Dirt(self.rng, dirt_rate)
        self.chunk_rows = chunk_rows
        self.progress = progress
        self.units = [u for u in plan.org_units if u.kind not in ("city", "group")]
        self.emp = annex_shares(plan, "附件表1")

    def _tick(self, ledger: str, total: int) -> Callable[[int], None]:
        return lambda n: self.progress(ledger, n, total) if self.progress else None

    # persons ---------------------------------------------------------------------

    def _surnames(self, n: int) -> list[str]:
        counts = largest_remainder(n, dict(SURNAMES))
        names = [s for s, c in counts.items() for _ in range(c)]
        self.rng.shuffle(names)
        return names

    def _persons(self, world: _World) -> Iterator[dict[str, Any]]:
        rng = self.rng
        residence_weights = {code: sum(v.values()) for code, v in self.emp.items()}
        residence_weights["XZ-SZ"] = residence_weights.get("XZ-SZ", 0) + sum(residence_weights.values()) * 0.02
        res_codes = list(residence_weights)
        res_cum = []
        acc = 0.0
        for c in res_codes:
            acc += residence_weights[c]
            res_cum.append(acc)
        gb = {u.code: u.gb_code for u in self.units}
        education = _weighted(rng, EDUCATION)
        start, span = date(1950, 1, 1), (date(2005, 12, 31) - date(1950, 1, 1)).days
        index = 0
        person_id = 0
        remaining = self.scale.persons
        while remaining > 0:
            n = min(self.chunk_rows, remaining)
            remaining -= n
            for surname in self._surnames(n):
                person_id += 1
                residence = rng.choices(res_codes, cum_weights=res_cum)[0]
                if rng.random() < OTHER_PROVINCE_SHARE:
                    region = rng.choice(OTHER_REGIONS)
                elif gb.get(residence) and rng.random() < 0.85:
                    region = gb[residence]  # type: ignore[assignment]
                else:
                    region = rng.choice(XUZHOU_REGIONS)
                birth = start + timedelta(days=rng.randrange(span + 1))
                male = rng.random() < 0.5
                while True:
                    seq = rng.randrange(500) * 2 + (1 if male else 0)
                    id_number = make_resident_id(region, birth, seq)
                    if id_number not in world.all_ids:
                        break
                world.all_ids.add(id_number)
                chars = GIVEN_MALE if male else GIVEN_FEMALE
                given = rng.choice(chars) + (rng.choice(chars + GIVEN_COMMON) if rng.random() < 0.7 else "")
                row = {
                    "person_id": person_id,
                    "id_number": id_number,
                    "name": surname + given,
                    "sex": "M" if male else "F",
                    "birth_date": birth,
                    "hukou_unit": region,
                    "residence_unit": residence,
                    "education": education(),
                    "phone": rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
                }
                kind = self.dirt.pick(("check_digit", "float", "missing", "duplicate"))
                column = None
                if kind == "check_digit":
                    row["id_number"], column = _bad_check(id_number), "id_number"
                elif kind == "float":
                    row["id_number"], column = _as_float_text(id_number), "id_number"
                elif kind == "missing":
                    column = rng.choice(("id_number", "name", "birth_date", "phone", "education"))
                    row[column] = None
                if column != "id_number":
                    world.pools.setdefault(residence, []).append(id_number)
                if kind and kind != "duplicate":
                    self.dirt.note("persons", person_id, index, kind, column)
                yield row
                index += 1
                if kind == "duplicate":
                    self.dirt.note("persons", person_id, index, kind, None)
                    yield dict(row)
                    index += 1

    # enterprises -----------------------------------------------------------------

    def _enterprises(self, world: _World) -> Iterator[dict[str, Any]]:
        rng = self.rng
        weights = {code: sum(v.values()) for code, v in self.emp.items()}
        counts = largest_remainder(self.scale.enterprises, weights)
        gb = {u.code: u.gb_code or "320300" for u in self.units}
        industry = _weighted(rng, INDUSTRIES)
        size = _weighted(rng, SIZES)
        seen: set[str] = set()
        index = 0
        for code, n in counts.items():
            for _ in range(n):
                while True:
                    body = "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
                    credit = make_credit_code("91" + gb[code] + body)
                    if credit not in seen:
                        break
                seen.add(credit)
                ind = industry()
                trade = "".join(rng.sample(FIRM_WORDS, 2))
                row = {
                    "credit_code": credit,
                    "name": f"徐州{trade}{INDUSTRY_WORDS[ind]}有限公司",
                    "org_unit": code,
                    "industry": ind,
                    "size": size(),
                }
                kind = self.dirt.pick(("check_digit", "missing", "duplicate"))
                column = None
                if kind == "check_digit":
                    wrong = CREDIT_ALPHABET.replace(credit[-1], "")
                    row["credit_code"] = credit[:-1] + rng.choice(wrong)
                    column = "credit_code"
                elif kind == "missing":
                    column = rng.choice(("name", "industry", "size"))
                    row[column] = None
                if column != "credit_code":
                    world.employers.setdefault(code, []).append(credit)
                    world.all_employers.append(credit)
                if kind and kind != "duplicate":
                    self.dirt.note("enterprises", row["credit_code"], index, kind, column)
                yield row
                index += 1
                if kind == "duplicate":
                    self.dirt.note("enterprises", row["credit_code"], index, kind, None)
                    yield dict(row)
                    index += 1

    # events ----------------------------------------------------------------------

    def _cells(
        self, shares: dict[str, dict[int, float]], factor: float, season: str
    ) -> Iterator[tuple[str, date, int]]:
        """(org unit, first day of month, count) for every cell with events."""
        for code, per_year in shares.items():
            for year, target in sorted(per_year.items()):
                monthly = largest_remainder(round(target * factor), dict(enumerate(SEASONS[season], 1)))
                for month, n in monthly.items():
                    if n:
                        yield code, date(year, month, 1), n

    def _events(
        self,
        ledger: str,
        world: _World,
        cells: Iterator[tuple[str, date, int]],
        extra: Callable[[str], dict[str, Any]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        rng = self.rng
        everyone = [i for pool in world.pools.values() for i in pool[:1000]]
        index = 0
        event_id = 0
        for code, month_start, n in cells:
            pool = world.pools.get(code) or everyone
            days = ((month_start.replace(day=28) + timedelta(days=4)).replace(day=1) - month_start).days
            for _ in range(n):
                event_id += 1
                id_number = rng.choice(pool)
                row = {
                    "event_id": event_id,
                    "id_number": id_number,
                    "org_unit": code,
                    "event_date": month_start + timedelta(days=rng.randrange(days)),
                }
                if extra:
                    row.update(extra(code))
                kind = self.dirt.pick(
                    ("check_digit", "float", "missing", "duplicate", "orphan", "date_out_of_range")
                )
                column = None
                if kind == "check_digit":
                    row["id_number"], column = _bad_check(id_number), "id_number"
                elif kind == "float":
                    row["id_number"], column = _as_float_text(id_number), "id_number"
                elif kind == "missing":
                    column = rng.choice(("id_number", "org_unit", "event_date"))
                    row[column] = None
                elif kind == "orphan":
                    row["id_number"], column = self._stranger(world), "id_number"
                elif kind == "date_out_of_range":
                    row["event_date"], column = rng.choice(OUT_OF_RANGE_DATES), "event_date"
                if kind and kind != "duplicate":
                    self.dirt.note(ledger, event_id, index, kind, column)
                yield row
                index += 1
                if kind == "duplicate":
                    self.dirt.note(ledger, event_id, index, kind, None)
                    yield dict(row)
                    index += 1

    def _stranger(self, world: _World) -> str:
        """A valid ID number of nobody in the person register."""
        while True:
            birth = date(1950, 1, 1) + timedelta(days=self.rng.randrange(20000))
            id_number = make_resident_id(self.rng.choice(XUZHOU_REGIONS), birth, self.rng.randrange(1000))
            if id_number not in world.all_ids:
                return id_number

    def _employment_cells(self) -> Iterator[tuple[str, date, int, str]]:
        f = self.scale.event_factor
        for code, day, n in self._cells(self.emp, f, "employment"):
            yield code, day, n, "employment"
        for code, day, n in self._cells(self.emp, f * UNEMPLOYMENT_RATIO, "employment"):
            yield code, day, n, "unemployment"

    # run -------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        """Write every ledger and the dirt manifest; return rows written per file."""
        self.out.mkdir(parents=True, exist_ok=True)
        world = _World({}, set(), {}, [])
        f = self.scale.event_factor
        rng = self.rng
        counts: dict[str, int] = {}

        def write(name: str, rows: Iterator[dict[str, Any]], expected: int) -> None:
            counts[name] = _write(
                self.out / f"{name}.parquet", LEDGERS[name], rows, self.chunk_rows, self._tick(name, expected)
            )

        write("persons", self._persons(world), self.scale.persons)
        write("enterprises", self._enterprises(world), self.scale.enterprises)

        # employment: the kind and employer ride along with each cell
        kinds: list[str] = []

        def emp_cells() -> Iterator[tuple[str, date, int]]:
            for code, day, n, kind in self._employment_cells():
                kinds.append(kind)
                yield code, day, n

        def emp_extra(code: str) -> dict[str, Any]:
            if kinds[-1] == "unemployment":
                return {"kind": "unemployment", "credit_code": None}
            firms = world.employers.get(code) or world.all_employers
            return {"kind": "employment", "credit_code": rng.choice(firms) if firms else None}

        n_emp = round(375_000 * f * (1 + UNEMPLOYMENT_RATIO))
        write("employment_registrations", self._events("employment_registrations", world, emp_cells(), emp_extra), n_emp)

        rural = annex_shares(self.plan, "附件表2")  # 万人
        write("rural_transfers", self._events("rural_transfers", world, self._cells(rural, f * 10_000, "rural")),
              round(110_000 * f))

        starts = annex_shares(self.plan, "附件表4")
        loans = annex_shares(self.plan, "附件表5")  # 万元
        per_head = {c: sum(loans.get(c, {}).values()) / max(sum(v.values()), 1) for c, v in starts.items()}

        def loan(code: str) -> dict[str, Any]:
            if rng.random() >= LOAN_SHARE:
                return {"loan_wan_yuan": 0.0}
            return {"loan_wan_yuan": round(per_head[code] / LOAN_SHARE * rng.uniform(0.5, 1.5), 1)}

        write("entrepreneurship", self._events("entrepreneurship", world, self._cells(starts, f, "entrepreneurship"), loan),
              round(120_000 * f))
        write(
            "training",
            self._events("training", world, self._cells(self.emp, f * TRAINING_RATIO, "training"),
                         lambda _c: {"subsidised": rng.random() < SUBSIDISED_SHARE}),
            round(375_000 * f * TRAINING_RATIO),
        )  # fmt: skip
        grads = annex_shares(self.plan, "附件表9")
        write("graduates_attracted", self._events("graduates_attracted", world, self._cells(grads, f, "graduates")),
              round(250_000 * f))

        dirt = self.dirt.rows
        counts["_dirt"] = _write(self.out / "_dirt.parquet", DIRT_LEDGER, iter(dirt), max(len(dirt), 1))
        return counts


def generate(
    out_dir: Path,
    scale: str | Scale = "small",
    *,
    seed: int = 0,
    dirt_rate: float = 0.02,
    plan: Plan | None = None,
    chunk_rows: int = 500_000,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Write the synthetic ledgers into `out_dir`; return the number of rows per file.

    `progress(ledger, rows_just_written, rows_expected)` is called after every chunk.
    """
    if plan is None:
        from hrss.plan.planfile import load_plan

        plan = load_plan()
    sc = SCALES[scale] if isinstance(scale, str) else scale
    return Generator(plan, out_dir, sc, seed, dirt_rate, chunk_rows, progress).run()
