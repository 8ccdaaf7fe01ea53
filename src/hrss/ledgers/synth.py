"""Synthetic real-name ledgers (实名制台账) for development, tests and load trials.

`generate(out_dir, scale, seed)` writes one Parquet file per ledger of
`hrss.ledgers.schema.LEDGERS`, the reference table (`reference.parquet`), `_dirt.parquet`
(the rows made dirty on purpose and how: the answer key for the data-quality report) and
`_sample.json` (each ledger's sampling fraction, hrss.ledgers.sample).

The ledgers are a sample of one simulated city, the one whose monthly figures `hrss demo`
loads as reported values (hrss.ledgers.synth_city): each ledger holds the city's records ×
its sampling fraction (`Scale.fractions`), unit by unit and month by month, so that the
statistics computed from them and scaled back up (样本推算) agree with the reports, except
where demo.DISCREPANCIES plants a difference.

- People: Chinese names (surnames by their national frequencies, allocated exactly by
  largest remainder so the ranking is stable), valid resident ID numbers (Xuzhou region
  codes, ~10% from other provinces), birth dates 1950–2005; residents of each org unit in
  proportion to its pension enrolees.
- Employers: valid unified social credit codes (GB 32100) registered in Xuzhou.
- Events 2021-01..2025-12 (planned in `synth_events`): counts per org unit and month are the
  city's figures × the fraction, rounded so that every running total is within half a record
  of the exact one; city-only figures are split among the units like 附件表1. Each file is in
  date order. Persons counted once a year (I01, I04) or once ever (I10, I11, I14) are drawn
  without repetition from the whole register; other events from the unit's residents.
- Insurance enrolment spells follow the city's enrolment and paying share (synth_spells);
  e-card applications its coverage; the reference table holds whole-city statistics sized
  so that the computed rates (I02, I11, I18) follow the city's.
- Dirt (default 2% of rows): beside a clean row, a second entry of it with a bad check
  digit, a missing field, an ID number stored as a float, nobody's ID number or an
  impossible date, or an exact copy — so cleaning removes the dirt and leaves the records.
  In the register a person's own row is made dirty (such a person is in no event).

The lists and rates are in `synth_params`, the building blocks (dirt, Parquet writing) in
`synth_parts`, the city's figures in `synth_city`. Everything comes from one `random.Random(seed)`: the same seed gives the same rows.
Rows are produced as streams and written in chunks (`chunk_rows`), so `city` and
`province` scales do not hold the event ledgers in memory (one month of events at a
time; spells as compact arrays); the person register's ID numbers are held (a set and
per-unit lists) to keep IDs unique and let events refer to them.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hrss.ledgers.identifiers import CREDIT_ALPHABET, make_credit_code, make_resident_id
from hrss.ledgers.sample import write_fractions
from hrss.ledgers.schema import DIRT_LEDGER, LEDGERS, REFERENCE_LEDGER
from hrss.ledgers.synth_city import CityFigures, city_figures
from hrss.ledgers.synth_events import EventPlans, Months, Pick, World
from hrss.ledgers.synth_params import (
    BIRTH_FIRST,
    BIRTH_LAST,
    COVERS,
    EDUCATION,
    FIRM_WORDS,
    GIVEN_COMMON,
    GIVEN_FEMALE,
    GIVEN_MALE,
    INDUSTRIES,
    INDUSTRY_WORDS,
    OTHER_PROVINCE_SHARE,
    OTHER_REGIONS,
    OUT_OF_RANGE_DATES,
    PHONE_PREFIXES,
    SCALES,
    SCHOLARS_BORN,
    SIZES,
    SURNAMES,
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
from hrss.ledgers.synth_spells import draw_spells
from hrss.plan.model import Plan

# --- the generator ----------------------------------------------------------------

EVENT_DIRT = ("check_digit", "float", "missing", "duplicate", "orphan", "date_out_of_range")


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
        self.emp = annex_shares(plan, "附件表1")  # where employers are
        self.city: CityFigures = city_figures(plan)
        self.fractions = scale.fractions()
        self.plans = EventPlans(plan, self.rng, self.city, self.fractions, self.units)

    def _tick(self, ledger: str, total: int) -> Callable[[int], None]:
        return lambda n: self.progress(ledger, n, total) if self.progress else None

    # persons ---------------------------------------------------------------------

    def _surnames(self, n: int) -> list[str]:
        counts = largest_remainder(n, dict(SURNAMES))
        names = [s for s, c in counts.items() for _ in range(c)]
        self.rng.shuffle(names)
        return names

    def _persons(self, world: World) -> Iterator[dict[str, Any]]:
        rng = self.rng
        # residents in proportion to the unit's pension enrolees at the end of the plan (I06)
        pension = {code: series[-1] for code, series in self.city.stocks("I06").items()}
        mean = sum(pension.values()) / max(len(pension), 1)
        residence_weights = {u.code: pension.get(u.code) or mean / 100 for u in self.units}
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
                    if degree == "研究生" and SCHOLARS_BORN[0] <= id_number[6:10] <= SCHOLARS_BORN[1]:
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

    def _enterprises(self, world: World) -> Iterator[dict[str, Any]]:
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
        world: World,
        months: Months,
        extra: Callable[[dict[str, Any], Any], None] | None = None,
        pick: Pick | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Clean event rows in date order. `extra(row, tag)` fills the ledger's own columns;
        `pick(org unit, tag, day)` chooses the person (default: a resident of the unit)."""
        key = LEDGERS[ledger].key
        for day, code, tag in self._days(months):
            row = {
                key: None,  # numbered by _dirty, in file order
                "id_number": pick(code, tag, day) if pick else self.plans.resident(world, code),
                "org_unit": code,
                "event_date": day,
            }
            if extra:
                extra(row, tag)
            yield row

    def _dirty(self, ledger: str, world: World, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Number the rows in file order; at the dirt rate, follow a row with a dirty second
        entry of it (its own number) or an exact copy (the same number), noted in the manifest."""
        rng = self.rng
        key, when = LEDGERS[ledger].key, LEDGERS[ledger].date_column
        assert when is not None
        index = number = 0
        for row in rows:
            number += 1
            row[key] = number
            yield row
            index += 1
            kind = self.dirt.pick(EVENT_DIRT)
            if kind is None:
                continue
            bad, column = dict(row), None
            if kind == "check_digit":
                bad["id_number"], column = _bad_check(row["id_number"]), "id_number"
            elif kind == "float":
                bad["id_number"], column = _as_float_text(row["id_number"]), "id_number"
            elif kind == "missing":
                column = rng.choice(("id_number", "org_unit", when))
                bad[column] = None
            elif kind == "orphan":
                bad["id_number"], column = self._stranger(world), "id_number"
            elif kind == "date_out_of_range":
                bad[when], column = rng.choice(OUT_OF_RANGE_DATES), when
            if kind != "duplicate":
                number += 1
                bad[key] = number
            self.dirt.note(ledger, bad[key], index, kind, column)
            yield bad
            index += 1

    def _stranger(self, world: World) -> str:
        """A valid ID number of nobody in the person register."""
        while True:
            birth = date(1950, 1, 1) + timedelta(days=self.rng.randrange(20000))
            id_number = make_resident_id(self.rng.choice(XUZHOU_REGIONS), birth, self.rng.randrange(1000))
            if id_number not in world.all_ids:
                return id_number

    # run -------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        """Write every ledger, the dirt manifest and the sampling fractions; return rows written per file."""
        self.out.mkdir(parents=True, exist_ok=True)
        world = World()
        fr = self.fractions
        counts: dict[str, int] = {}

        def write(name: str, rows: Iterator[dict[str, Any]], expected: int) -> None:
            counts[name] = _write(
                self.out / f"{name}.parquet", LEDGERS[name], rows, self.chunk_rows, self._tick(name, expected)
            )

        def events(name: str, months: Months, extra: Any = None, pick: Pick | None = None) -> None:
            expected = sum(n for cells in months.values() for _, _, n in cells)
            write(name, self._dirty(name, world, self._events(name, world, months, extra, pick)), expected)

        write("persons", self._persons(world), self.scale.persons)
        world.everyone = [i for pool in world.pools.values() for i in pool]
        write("enterprises", self._enterprises(world), self.scale.enterprises)
        months, extra, pick = self.plans.registrations(world)
        events("employment_registrations", months, extra, pick)
        events("rural_transfers", self.plans.by_unit(None, self.city.flows("I03"), fr["rural_transfers"]))  # I03
        months, extra, pick = self.plans.entrepreneurs(world)
        events("entrepreneurship", months, extra, pick)
        months, extra = self.plans.training()
        events("training", months, extra)
        months, pick = self.plans.graduates(world)
        events("graduates_attracted", months, pick=pick)
        months, extra, pick, labour_force = self.plans.certificates(world)
        events("certificates", months, extra, pick)
        months, extra, pick = self.plans.postdocs(world)
        events("postdocs", months, extra, pick)
        write("insurance_enrollments", self._dirty("insurance_enrollments", world, self._spells(world)),
              round(self.scale.persons * 0.7))  # fmt: skip
        months, pick = self.plans.ecards(world)
        events("ecard_applications", months, pick=pick)
        months, extra = self.plans.ratings()
        events("service_ratings", months, extra)
        months, extra = self.plans.cases()
        events("cases", months, extra)
        n_reference = len(self.units) * len(YEAR_ENDS)
        counts["reference"] = _write(
            self.out / "reference.parquet", REFERENCE_LEDGER, self.plans.reference(world, labour_force), self.chunk_rows,
            self._tick("reference", n_reference),
        )  # fmt: skip
        dirt = self.dirt.rows
        counts["_dirt"] = _write(self.out / "_dirt.parquet", DIRT_LEDGER, iter(dirt), max(len(dirt), 1))
        write_fractions(self.out, fr)
        return counts

    def _spells(self, world: World) -> Iterator[dict[str, Any]]:
        """Enrolment at each month's end as the city's figures × the register's fraction."""
        f = self.fractions["insurance_enrollments"]
        targets: dict[tuple[str, int], list[int]] = {}
        paying: dict[int, list[float]] = {}
        for ci, cover in enumerate(COVERS):
            for code, series in self.city.stocks(cover.indicator).items():
                stock = [round(v * f) for v in series]
                targets[(code, ci)] = [stock[0], *stock]
            if cover.insurance == "pension":
                share = [v / 100 for v in self.city.city_series("I09")]
                paying[ci] = [share[0], *share]
            else:
                (p0, p1), n = cover.paying, len(self.plans.firsts)
                paying[ci] = [p0 + (p1 - p0) * i / n for i in range(n + 1)]
        ends = [(first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)) for first in self.plans.firsts]
        return draw_spells(self.rng, world.pools, targets, paying, ends)


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
