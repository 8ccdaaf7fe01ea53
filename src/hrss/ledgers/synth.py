"""Synthetic real-name ledgers (实名制台账) for development, tests and load trials.

`generate(out_dir, scale, seed)` writes one Parquet file per ledger of
`hrss.ledgers.schema.LEDGERS`, the reference table (`reference.parquet`) and
`_dirt.parquet`: the rows made dirty on purpose and how (the answer key for the
data-quality report).

- People: Chinese names (surnames by their national frequencies, allocated exactly by
  largest remainder so the ranking is stable), valid resident ID numbers (Xuzhou
  region codes, ~10% from other provinces), birth dates 1950–2005.
- Employers: valid unified social credit codes (GB 32100) registered in Xuzhou.
- Events 2021-01..2025-12: counts per org unit, year and month follow the plan's annex
  targets (附件表1 employment, 2 rural transfers, 4 entrepreneurship with 5 for loans,
  9 graduates; 表2 totals split like 附件表1 for certificates, service ratings and
  cases) times a scale factor, spread over months by a seasonal profile. A group row of
  an annex (主城区, 开发区) is split equally among its members. Each file is in date order.
- Insurance enrolment spells and e-card applications are drawn from the person register
  (shares of its persons), the reference table from what was generated, so that the
  computed rates (I02, I06–I09, I11, I18) come out at the plan's levels.
- Dirt (default 2% of rows): bad check digits, duplicated rows, missing fields, ID
  numbers stored as floats, orphan events (unknown person), dates out of range.

The lists and rates are in `synth_params`, the building blocks (dirt, Parquet writing) in
`synth_parts`. Everything comes from one `random.Random(seed)`: the same seed gives the same rows.
Rows are produced as streams and written in chunks (`chunk_rows`), so `city` and
`province` scales do not hold the event ledgers in memory (one month of events at a
time; spells as compact arrays); the person register's ID numbers are held (a set and
per-unit lists) to keep IDs unique and let events refer to them.
"""

from __future__ import annotations

import random
import shutil
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss.ledgers.identifiers import CREDIT_ALPHABET, make_credit_code, make_resident_id
from hrss.ledgers.schema import DIRT_LEDGER, LEDGERS, REFERENCE_LEDGER
from hrss.ledgers.synth_params import (
    BIRTH_FIRST,
    BIRTH_LAST,
    CASES,
    CERTIFICATES,
    CHANNELS,
    COVERS,
    EARLIER_CHANGE,
    ECARD_APPLICANTS,
    ECARD_HOLDERS_2020,
    EDUCATION,
    EMPLOYMENT_TOTAL,
    ENROLLED_FROM,
    FIRM_WORDS,
    GIVEN_COMMON,
    GIVEN_FEMALE,
    GIVEN_MALE,
    HIGH_SKILL,
    HIGH_SKILL_PER_10K,
    INDUSTRIES,
    INDUSTRY_WORDS,
    LEVELS,
    LOAN_SHARE,
    MIN_POSTDOCS,
    OTHER_PROVINCE_SHARE,
    OTHER_REGIONS,
    OUT_OF_RANGE_DATES,
    PERIOD_END,
    PERIOD_START,
    PHONE_PREFIXES,
    POSTDOC_STATIONS,
    POSTDOCS,
    RATINGS,
    RATINGS_RATIO,
    SCALES,
    SEASONS,
    SIZES,
    STATUS,
    SUBSIDISED_SHARE,
    SURNAMES,
    TRAINING_RATIO,
    UNEMPLOYMENT_ENDED,
    UNEMPLOYMENT_RATE,
    UNEMPLOYMENT_RATIO,
    XUZHOU_REGIONS,
    YEAR_ENDS,
    Scale,
)
from hrss.ledgers.synth_parts import (
    _as_float_text,
    _bad_check,
    _Dirt,
    _weighted,
    _write,
    annex_shares,
    largest_remainder,
)
from hrss.plan.model import Plan

# --- the generator ----------------------------------------------------------------

EVENT_DIRT = ("check_digit", "float", "missing", "duplicate", "orphan", "date_out_of_range")
# A month's events: (org unit, tag, count); the tag tells the ledger's own columns apart.
Months = dict[date, list[tuple[str, Any, int]]]


@dataclass
class _World:
    """What event ledgers need from the registers, and what the reference table needs from them."""

    pools: dict[str, list[str]] = field(default_factory=dict)  # org unit → clean IDs of residents
    all_ids: set[str] = field(default_factory=set)
    employers: dict[str, list[str]] = field(default_factory=dict)  # org unit → credit codes
    all_employers: list[str] = field(default_factory=list)
    population: dict[str, int] = field(default_factory=dict)  # org unit → persons residing there
    scholars: list[str] = field(default_factory=list)  # clean IDs of postgraduates born 1980–1996
    # org unit → year → registered unemployed at the year end (clean rows)
    unemployed: dict[str, dict[int, int]] = field(default_factory=dict)
    high_skill: dict[str, set[str]] = field(default_factory=dict)  # org unit → new high-skill holders


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
        start, span = BIRTH_FIRST, (BIRTH_LAST - BIRTH_FIRST).days
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
                    "education": (degree := education()),
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
                world.population[residence] = world.population.get(residence, 0) + 1
                if column != "id_number":
                    world.pools.setdefault(residence, []).append(id_number)
                    if degree == "研究生" and "1980" <= id_number[6:10] <= "1996":
                        world.scholars.append(id_number)
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

    def _months(self, series: Iterable[tuple[Any, dict[str, dict[int, float]], float, str]]) -> Months:
        """Counts per month, org unit and tag for each (tag, shares, factor, season) series:
        per org unit and year, target × factor spread over the months by the season."""
        months: Months = {}
        for tag, shares, factor, season in series:
            for code, per_year in shares.items():
                for year, target in sorted(per_year.items()):
                    monthly = self._spread(round(target * factor), SEASONS[season])
                    for month, n in monthly.items():
                        if n:
                            months.setdefault(date(year, month, 1), []).append((code, tag, n))
        return months

    def _spread(self, total: int, season: tuple[float, ...]) -> dict[int, int]:
        """total events over the 12 months in proportion to season, by systematic rounding:
        each month gets the whole part of its share, and the remainders go to months at
        random in proportion to their fractions (a fixed largest-remainder rule would put a
        small unit's few cases in the same peak months every year)."""
        weight = sum(season)
        expected = [total * w / weight for w in season]
        out: dict[int, int] = {}
        running, threshold = 0.0, self.rng.random()
        for month, e in enumerate(expected, start=1):
            whole = int(e)
            running += e - whole
            extra = 0
            while running >= threshold:
                extra += 1
                threshold += 1.0
            out[month] = whole + extra
        return out

    def _days(self, months: Months) -> Iterator[tuple[date, str, Any]]:
        """(day, org unit, tag) for every event, in date order: each event's day is drawn
        uniformly within its month; only one month's events are held at a time."""
        rng = self.rng
        for first in sorted(months):
            ndays = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days
            per_day: list[list[tuple[str, Any]]] = [[] for _ in range(ndays)]
            for code, tag, n in months[first]:
                cell = (code, tag)
                for _ in range(n):
                    per_day[rng.randrange(ndays)].append(cell)
            for offset, cells in enumerate(per_day):
                day = first + timedelta(days=offset)
                for code, tag in cells:
                    yield day, code, tag

    def _events(
        self,
        ledger: str,
        world: _World,
        months: Months,
        extra: Callable[[dict[str, Any], Any], None] | None = None,
        pick: Callable[[str], str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Clean event rows in date order, numbered in that order. `extra(row, tag)` fills
        the ledger's own columns; `pick(org unit)` chooses the person (default: any resident)."""
        rng = self.rng
        key = LEDGERS[ledger].key
        everyone = [i for pool in world.pools.values() for i in pool[:1000]]
        for number, (day, code, tag) in enumerate(self._days(months), 1):
            row = {
                key: number,
                "id_number": pick(code) if pick else rng.choice(world.pools.get(code) or everyone),
                "org_unit": code,
                "event_date": day,
            }
            if extra:
                extra(row, tag)
            yield row

    def _dirty(self, ledger: str, world: _World, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Make rows dirty at the dirt rate, note each in the manifest; duplicates follow their row."""
        rng = self.rng
        key, when = LEDGERS[ledger].key, LEDGERS[ledger].date_column
        assert when is not None
        index = 0
        for row in rows:
            kind = self.dirt.pick(EVENT_DIRT)
            column = None
            id_number = row["id_number"]
            if kind == "check_digit":
                row["id_number"], column = _bad_check(id_number), "id_number"
            elif kind == "float":
                row["id_number"], column = _as_float_text(id_number), "id_number"
            elif kind == "missing":
                column = rng.choice(("id_number", "org_unit", when))
                row[column] = None
            elif kind == "orphan":
                row["id_number"], column = self._stranger(world), "id_number"
            elif kind == "date_out_of_range":
                row[when], column = rng.choice(OUT_OF_RANGE_DATES), when
            if kind and kind != "duplicate":
                self.dirt.note(ledger, row[key], index, kind, column)
            yield row
            index += 1
            if kind == "duplicate":
                self.dirt.note(ledger, row[key], index, kind, None)
                yield dict(row)
                index += 1

    def _stranger(self, world: _World) -> str:
        """A valid ID number of nobody in the person register."""
        while True:
            birth = date(1950, 1, 1) + timedelta(days=self.rng.randrange(20000))
            id_number = make_resident_id(self.rng.choice(XUZHOU_REGIONS), birth, self.rng.randrange(1000))
            if id_number not in world.all_ids:
                return id_number

    # the ledgers' own columns --------------------------------------------------------

    def _registration(self, world: _World) -> Callable[[dict[str, Any], Any], None]:
        """Employment registrations get an employer; unemployment ones an end date (most end
        1–12 months on, skewed short), tallied as the registered unemployed at year ends."""
        rng = self.rng

        def extra(row: dict[str, Any], kind: str) -> None:
            code, registered = row["org_unit"], row["event_date"]
            row["kind"] = kind
            if kind == "employment":
                firms = world.employers.get(code) or world.all_employers
                row["credit_code"], row["end_date"] = (rng.choice(firms) if firms else None), None
                return
            end = None
            if rng.random() < UNEMPLOYMENT_ENDED:
                end = registered + timedelta(days=30 + int(335 * rng.random() ** 2))
                end = None if end > PERIOD_END else end
            row["credit_code"], row["end_date"] = None, end
            stock = world.unemployed.setdefault(code, dict.fromkeys(YEAR_ENDS, 0))
            for year, year_end in YEAR_ENDS.items():
                if registered <= year_end and (end is None or end > year_end):
                    stock[year] += 1

        return extra

    def _certificate(self, world: _World) -> Callable[[dict[str, Any], Any], None]:
        levels = {t: _weighted(self.rng, pairs) for t, pairs in LEVELS.items()}

        def extra(row: dict[str, Any], cert_type: str) -> None:
            row["cert_type"], row["level"] = cert_type, levels[cert_type]()
            if row["level"] in HIGH_SKILL:
                world.high_skill.setdefault(row["org_unit"], set()).add(row["id_number"])

        return extra

    def _case(self) -> Callable[[dict[str, Any], Any], None]:
        rng = self.rng
        outcomes = {kind: _weighted(rng, c.outcomes) for kind, c in CASES.items()}

        def extra(row: dict[str, Any], kind: str) -> None:
            case, opened = CASES[kind], row["event_date"]
            due = opened + timedelta(days=case.days_due)
            if rng.random() < case.on_time:
                closed: date | None = opened + timedelta(days=rng.randint(1, case.days_due))
            else:
                closed = due + timedelta(days=rng.randint(1, 90))
            if closed is not None and closed > PERIOD_END:
                closed = None  # still open when the data end
            row.update(kind=kind, due_date=due, closed_date=closed, outcome=outcomes[kind]() if closed else None)

        return extra

    def _postdoc_months(self, factor: float) -> tuple[Months, Callable[[dict[str, Any], Any], None]]:
        """Intake per year split among stations' org units exactly; a station is drawn per row."""
        weights: dict[str, float] = {}
        for _, code, w in POSTDOC_STATIONS:
            weights[code] = weights.get(code, 0.0) + w
        shares: dict[str, dict[int, float]] = {code: {} for code in weights}
        total = max(round(POSTDOCS * factor), MIN_POSTDOCS)
        for year, intake in largest_remainder(total, dict.fromkeys(YEAR_ENDS, 1.0)).items():
            for code, n in largest_remainder(intake, weights).items():
                shares[code][year] = n
        stations = {
            code: _weighted(self.rng, tuple((name, w) for name, c, w in POSTDOC_STATIONS if c == code))
            for code in weights
        }

        def extra(row: dict[str, Any], _tag: Any) -> None:
            row["station"] = stations[row["org_unit"]]()

        return self._months([(None, shares, 1.0, "flat")]), extra

    def _ecard_months(self, world: _World) -> tuple[Months, Callable[[str], str]]:
        """Applicants per org unit and year as shares of its residents; each person once."""
        shares: dict[str, dict[int, float]] = {}
        queue: dict[str, Iterator[str]] = {}
        total = round(sum(ECARD_APPLICANTS.values()) * sum(world.population.values()))
        for code, n in largest_remainder(total, world.population).items():
            pool = world.pools.get(code, [])
            n = min(n, len(pool))
            shares[code] = dict(largest_remainder(n, ECARD_APPLICANTS))
            queue[code] = iter(self.rng.sample(pool, n))
        return self._months([(None, shares, 1.0, "flat")]), lambda code: next(queue[code])

    # insurance spells --------------------------------------------------------------

    def _spells(self, world: _World) -> Iterator[dict[str, Any]]:
        """Clean insurance spells in start_date order, record_id in that order.

        Drawn person by person into compact arrays (a few bytes per spell), then ordered
        with Arrow's stable sort, so even the city scale holds no row dicts.
        """
        rng = self.rng
        young = date(BIRTH_LAST.year - 1, 12, 31)  # born later: 16 only after 2020
        young_share = (BIRTH_LAST - young).days / ((BIRTH_LAST - BIRTH_FIRST).days + 1)
        young_id = young.strftime("%Y%m%d")  # compared with the ID number's birth date
        end_2020 = PERIOD_START - timedelta(days=1)
        span = (PERIOD_END - PERIOD_START).days + 1
        plans = []
        for cover in COVERS:
            # the young cannot be enrolled in 2020: older people are a little likelier to be
            s0 = cover.enrolled[0] / (1 - young_share)
            plans.append((cover, s0, cover.enrolled[1] - s0 * (1 - cover.leave), cover.resume()))
        starts, ends, people = array("i"), array("i"), array("i")
        units, covers, states = array("b"), array("b"), array("b")
        ids: list[str] = []
        codes = list(world.pools)
        spells: list[tuple[date, date | None, int, int]] = []  # one person's: start, end, cover, status
        add = spells.append
        for ui, code in enumerate(codes):
            pool = world.pools[code]
            boost = world.population[code] / len(pool)  # shares are of all residents
            for person in pool:
                born = person[6:14]
                is_young = born > young_id
                draws = (rng.random(), rng.random())  # pension; the employee insurances (nested)
                for ci, (cover, s0, joiners, resume) in enumerate(plans):
                    u = draws[min(ci, 1)] / boost
                    member = not is_young and u < s0
                    if not member and not u < (cover.enrolled[1] if is_young else s0 + joiners):
                        continue
                    sixteen = date(int(born[:4]) + 16, int(born[4:6]), int(born[6:8]))
                    if not member:  # joins paying in 2021–2025
                        first = max(PERIOD_START, sixteen)
                        add((first + timedelta(days=rng.randrange((PERIOD_END - first).days + 1)), None, ci, 0))
                        continue
                    first = max(ENROLLED_FROM, sixteen)
                    start = first + timedelta(days=rng.randrange((end_2020 - first).days + 1))
                    status = 0 if rng.random() < cover.paying[0] else 1
                    gap = (end_2020 - start).days
                    if gap > 0 and rng.random() < EARLIER_CHANGE:
                        change = start + timedelta(days=1 + rng.randrange(gap))
                        add((start, change, ci, 1 - status))
                        start = change
                    if rng.random() < cover.leave:
                        add((start, PERIOD_START + timedelta(days=rng.randrange(span)), ci, status))
                    elif rng.random() < (cover.suspend if status == 0 else resume):
                        change = PERIOD_START + timedelta(days=rng.randrange(span))
                        add((start, change, ci, status))
                        add((change, None, ci, 1 - status))
                    else:
                        add((start, None, ci, status))
                if not spells:
                    continue
                for start, end, ci, status in spells:
                    starts.append(start.toordinal())
                    ends.append(end.toordinal() if end else 0)
                    people.append(len(ids))
                    units.append(ui)
                    covers.append(ci)
                    states.append(status)
                ids.append(person)
                spells.clear()

        def arrow(values: array, kind: pa.DataType) -> pa.Array:
            return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])

        columns = [arrow(a, pa.int32()) for a in (starts, ends, people)]
        columns += [arrow(a, pa.int8()) for a in (units, covers, states)]
        order = pc.sort_indices(columns[0])  # stable: ties keep the order drawn
        record_id = 0
        for lo in range(0, len(order), 65_536):
            taken = [pc.take(c, order.slice(lo, 65_536)).to_pylist() for c in columns]
            for first_day, end_day, who, unit, insurance, state in zip(*taken, strict=True):
                record_id += 1
                yield {
                    "record_id": record_id,
                    "id_number": ids[who],
                    "org_unit": codes[unit],
                    "insurance": COVERS[insurance].insurance,
                    "status": STATUS[state],
                    "start_date": date.fromordinal(first_day),
                    "end_date": date.fromordinal(end_day) if end_day else None,
                }

    # reference -----------------------------------------------------------------------

    def _reference(self, world: _World) -> Iterator[dict[str, Any]]:
        """Denominators per leaf org unit and year, sized on what was generated: the labour
        force so that new high-skill holders lift I11 from 689 to 800 per 10,000 by end-2025,
        the urban labour force so that the year-end unemployed are UNEMPLOYMENT_RATE of it.
        A unit without such events gets the city's ratio to its residents."""
        rng = self.rng
        codes = [u.code for u in self.units]
        people = {c: world.population.get(c, 0) for c in codes}
        low, high = HIGH_SKILL_PER_10K
        labour = {c: len(world.high_skill.get(c, ())) * 10_000 / (high - low) for c in codes}
        labour = _fill_by_residents(labour, people)
        urban = {
            year: _fill_by_residents(
                {c: world.unemployed.get(c, {}).get(year, 0) / (rate + rng.uniform(-0.001, 0.001)) for c in codes},
                people,
            )
            for year, rate in UNEMPLOYMENT_RATE.items()
        }
        for code in codes:
            for year in YEAR_ENDS:
                yield {
                    "org_unit": code,
                    "year": year,
                    "resident_population": people[code],
                    "labour_force": round(labour[code]),
                    "urban_labour_force": round(urban[year][code]),
                    "high_skill_2020": round(labour[code] * low / 10_000),
                    "ecard_holders_2020": round(people[code] * ECARD_HOLDERS_2020),
                }

    # run -------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        """Write every ledger and the dirt manifest; return rows written per file."""
        self.out.mkdir(parents=True, exist_ok=True)
        world = _World()
        f = self.scale.event_factor
        rng = self.rng
        emp = self.emp
        counts: dict[str, int] = {}

        def write(name: str, rows: Iterator[dict[str, Any]], expected: int) -> None:
            counts[name] = _write(
                self.out / f"{name}.parquet", LEDGERS[name], rows, self.chunk_rows, self._tick(name, expected)
            )

        def events(name: str, months: Months, extra: Any = None, pick: Any = None) -> None:
            expected = sum(n for cells in months.values() for _, _, n in cells)
            write(name, self._dirty(name, world, self._events(name, world, months, extra, pick)), expected)

        write("persons", self._persons(world), self.scale.persons)
        write("enterprises", self._enterprises(world), self.scale.enterprises)
        events("employment_registrations",
               self._months([("employment", emp, f, "employment"),
                             ("unemployment", emp, f * UNEMPLOYMENT_RATIO, "employment")]),
               self._registration(world))  # fmt: skip
        rural = annex_shares(self.plan, "附件表2")  # 万人
        events("rural_transfers", self._months([(None, rural, f * 10_000, "rural")]))

        starts = annex_shares(self.plan, "附件表4")
        loans = annex_shares(self.plan, "附件表5")  # 万元
        per_head = {c: sum(loans.get(c, {}).values()) / max(sum(v.values()), 1) for c, v in starts.items()}

        def loan(row: dict[str, Any], _tag: Any) -> None:
            granted = rng.random() < LOAN_SHARE
            row["loan_wan_yuan"] = (
                round(per_head[row["org_unit"]] / LOAN_SHARE * rng.uniform(0.5, 1.5), 1) if granted else 0.0
            )

        events("entrepreneurship", self._months([(None, starts, f, "entrepreneurship")]), loan)
        events("training", self._months([(None, emp, f * TRAINING_RATIO, "training")]),
               lambda row, _tag: row.update(subsidised=rng.random() < SUBSIDISED_SHARE))  # fmt: skip
        grads = annex_shares(self.plan, "附件表9")
        events("graduates_attracted", self._months([(None, grads, f, "graduates")]))

        events("certificates",
               self._months([(t, emp, f * n / EMPLOYMENT_TOTAL, "training") for t, n in CERTIFICATES.items()]),
               self._certificate(world))  # fmt: skip
        months, station = self._postdoc_months(f)
        scholars = world.scholars or [i for pool in world.pools.values() for i in pool[:1000]]
        events("postdocs", months, station, lambda _code: rng.choice(scholars))
        write("insurance_enrollments", self._dirty("insurance_enrollments", world, self._spells(world)),
              round(self.scale.persons * sum(c.enrolled[1] for c in COVERS) * 1.3))  # fmt: skip
        months, applicant = self._ecard_months(world)
        events("ecard_applications", months, pick=applicant)
        events("service_ratings", self._months([(None, emp, f * RATINGS_RATIO, "employment")]),
               _rating(rng))  # fmt: skip
        events("cases",
               self._months([(k, emp, f * c.per_employment, "cases") for k, c in CASES.items()]),
               self._case())  # fmt: skip
        n_reference = len(self.units) * len(YEAR_ENDS)
        counts["reference"] = _write(
            self.out / "reference.parquet", REFERENCE_LEDGER, self._reference(world), self.chunk_rows,
            self._tick("reference", n_reference),
        )  # fmt: skip

        dirt = self.dirt.rows
        counts["_dirt"] = _write(self.out / "_dirt.parquet", DIRT_LEDGER, iter(dirt), max(len(dirt), 1))
        return counts


def _rating(rng: random.Random) -> Callable[[dict[str, Any], Any], None]:
    channel, rating = _weighted(rng, CHANNELS), _weighted(rng, RATINGS)
    return lambda row, _tag: row.update(channel=channel(), rating=rating())


def _fill_by_residents(values: dict[str, float], people: dict[str, int]) -> dict[str, float]:
    """Zero values replaced by residents × the ratio of the non-zero values to their residents."""
    known = [c for c, v in values.items() if v > 0]
    ratio = sum(values[c] for c in known) / max(sum(people[c] for c in known), 1)
    return {c: v if v > 0 else people[c] * ratio for c, v in values.items()}


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
    # what statistics kept of the ledgers being replaced (hrss.stats.state.STATE_DIR) no longer holds
    shutil.rmtree(out_dir / "_state", ignore_errors=True)
    return Generator(plan, out_dir, sc, seed, dirt_rate, chunk_rows, progress).run()
