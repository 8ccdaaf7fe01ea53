"""What the synthetic event ledgers hold (`hrss.ledgers.synth`): how many records of each
kind, in which org unit and month, and whose — planned from the city's figures
(hrss.ledgers.synth_city) × each ledger's sampling fraction — and the reference table.

Counts are whole numbers whose running totals are the exact ones rounded, so any year to
date is within one record of the city's figure × the fraction. City-only figures are split
among the units like 附件表1. Persons counted once a year (I01, I04) or once ever (I10, I11,
I14) are drawn without repetition from the whole register (`Draw`); other records go to
residents of the unit.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import gcd
from typing import Any

from hrss.ledgers.synth_city import CityFigures
from hrss.ledgers.synth_params import (
    CASES,
    CHANNELS,
    ECARD_HOLDERS_2020,
    GOOD_RATINGS,
    HIGH_SKILL,
    HIGH_SKILL_SHARE,
    LEVELS,
    LOAN_SHARE,
    OTHER_RATINGS,
    PERIOD_END,
    POSTDOC_STATIONS,
    SUBSIDISED_SHARE,
    UNEMPLOYMENT_ENDED,
    UNEMPLOYMENT_RATIO,
    YEAR_ENDS,
)
from hrss.ledgers.synth_parts import _weighted, annex_shares, largest_remainder
from hrss.plan.model import OrgUnit, Plan

# A month's events: (org unit, tag, count); the tag tells the ledger's own columns apart.
Months = dict[date, list[tuple[str, Any, int]]]
Pick = Callable[[str, Any, date], str]  # (org unit, tag, day) → the person's ID number
Extra = Callable[[dict[str, Any], Any], None]  # (row, tag): fills the ledger's own columns


@dataclass
class World:
    """What event ledgers need from the registers, and what the reference table needs from them."""

    pools: dict[str, list[str]] = field(default_factory=dict)  # org unit → clean IDs of residents
    all_ids: set[str] = field(default_factory=set)
    employers: dict[str, list[str]] = field(default_factory=dict)  # org unit → credit codes
    all_employers: list[str] = field(default_factory=list)
    population: dict[str, int] = field(default_factory=dict)  # org unit → persons residing there
    scholars: list[str] = field(default_factory=list)  # clean IDs of postgraduates born in SCHOLARS_BORN
    # org unit → year → registered unemployed at the year end (clean rows)
    unemployed: dict[str, dict[int, int]] = field(default_factory=dict)
    high_skill: dict[str, set[str]] = field(default_factory=dict)  # org unit → new high-skill holders
    everyone: list[str] = field(default_factory=list)  # every clean ID, once the register is written


class Draw:
    """Items without repetition, in the order of a random affine permutation of their indexes
    (k → a·k + b mod n): no copy of the list is made. After n draws it starts again."""

    def __init__(self, rng: random.Random, items: list[str]) -> None:
        self.items, n = items, len(items)
        self.a = rng.randrange(1, max(n, 2))
        while gcd(self.a, n) != 1:
            self.a = rng.randrange(1, n)
        self.b, self.k = rng.randrange(max(n, 1)), 0

    def __call__(self) -> str:
        i = (self.a * self.k + self.b) % len(self.items)
        self.k += 1
        return self.items[i]


class EventPlans:
    """The records of each event ledger, planned from the city's figures (see the module)."""

    def __init__(self, plan: Plan, rng: random.Random, city: CityFigures, fractions: dict[str, float], units: list[OrgUnit]) -> None:
        self.plan, self.rng, self.city, self.fractions, self.units = plan, rng, city, fractions, units
        self.shares = {code: sum(v.values()) for code, v in annex_shares(plan, "附件表1").items()}
        self.firsts = [date(y, m, 1) for y in plan.years for m in range(1, 13)]

    # events: how many, when --------------------------------------------------------

    @staticmethod
    def whole(expected: list[float]) -> list[int]:
        """Whole counts for a series of expected ones: the running totals rounded, so every
        running total is within half a record of the exact one (and a small unit's few records
        drift through the months instead of sitting in the same ones every year). The counts
        depend on the figures alone, not on the random state."""
        out, total, done = [], 0.0, 0
        for e in expected:
            total += e
            whole = int(total + 0.5)
            out.append(whole - done)
            done = whole
        return out

    def by_unit(self, tag: Any, per_unit: dict[str, list[float]], fraction: float) -> Months:
        """Counts of each unit's figures × fraction, month by month."""
        months: Months = {}
        for code, series in per_unit.items():
            for first, n in zip(self.firsts, self.whole([v * fraction for v in series]), strict=True):
                if n:
                    months.setdefault(first, []).append((code, tag, n))
        return months

    def split(self, tag: Any, counts: list[int], weights: dict[str, float], shift: int = 0) -> Months:
        """City counts per month split among units by weights (largest remainder); shift: put
        each month's count that many months earlier (dropped before the plan period)."""
        months: Months = {}
        for i, n in enumerate(counts):
            if n and i - shift >= 0:
                cells = [(code, tag, k) for code, k in largest_remainder(n, weights).items() if k]
                months.setdefault(self.firsts[i - shift], []).extend(cells)
        return months

    def city_counts(self, indicator: str, fraction: float) -> list[int]:
        return self.whole([v * fraction for v in self.city.city_series(indicator)])

    @staticmethod
    def merge(*parts: Months) -> Months:
        out: Months = {}
        for part in parts:
            for first, cells in part.items():
                out.setdefault(first, []).extend(cells)
        return out

    # events: who ----------------------------------------------------------------------

    def resident(self, world: World, code: str) -> str:
        return self.rng.choice(world.pools.get(code) or world.everyone)

    def once_a_year(self, world: World) -> Callable[[int], str]:
        """Persons drawn without repetition within each calendar year, from the whole register."""
        draws: dict[int, Draw] = {}
        return lambda year: (draws.get(year) or draws.setdefault(year, Draw(self.rng, world.everyone)))()

    # the ledgers --------------------------------------------------------------------

    def registrations(self, world: World) -> tuple[Months, Extra, Pick]:
        """Employment registrations (I01, each person once a year) and unemployment ones (I02:
        most end 1–12 months on, skewed short, tallied as the registered unemployed at year ends)."""
        rng, f = self.rng, self.fractions["employment_registrations"]
        i01 = self.city.flows("I01")
        months = self.merge(self.by_unit("employment", i01, f), self.by_unit("unemployment", i01, f * UNEMPLOYMENT_RATIO))
        once = self.once_a_year(world)

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

        return months, extra, lambda code, kind, day: once(day.year) if kind == "employment" else self.resident(world, code)

    def entrepreneurs(self, world: World) -> tuple[Months, Extra, Pick]:
        """Entrepreneurs (I04, each once a year); the month's guaranteed loans (A05) go to
        LOAN_SHARE of the unit's entrepreneurs of the month, adding up to its figure."""
        rng, f = self.rng, self.fractions["entrepreneurship"]
        months = self.by_unit(None, self.city.flows("I04"), f)
        counts = {(code, first): n for first, cells in months.items() for code, _, n in cells}
        loans: dict[tuple[str, date], list[float]] = {}
        for code, series in self.city.flows("A05").items():
            owed = 0.0
            for first, amount in zip(self.firsts, series, strict=True):
                owed += amount * f
                n = counts.get((code, first), 0)
                if n == 0 or owed <= 0:
                    continue
                k = max(1, min(n, round(n * LOAN_SHARE)))
                tenths = largest_remainder(round(owed * 10), {i: rng.uniform(0.5, 1.5) for i in range(k)})
                amounts = [t / 10 for t in tenths.values()] + [0.0] * (n - k)
                rng.shuffle(amounts)
                loans[(code, first)], owed = amounts, 0.0

        def extra(row: dict[str, Any], _tag: Any) -> None:
            granted = loans.get((row["org_unit"], row["event_date"].replace(day=1)))
            row["loan_wan_yuan"] = granted.pop() if granted else 0.0

        once = self.once_a_year(world)
        return months, extra, lambda _code, _tag, day: once(day.year)

    def graduates(self, world: World) -> tuple[Months, Pick]:
        """Graduates attracted (I10), each person once ever."""
        once = Draw(self.rng, world.everyone)
        return self.by_unit(None, self.city.flows("I10"), self.fractions["graduates_attracted"]), lambda *_: once()

    def training(self) -> tuple[Months, Extra]:
        """Subsidised attendances (I05), and the others beside them."""
        counts = self.city_counts("I05", self.fractions["training"])
        others = self.whole([n * (1 / SUBSIDISED_SHARE - 1) for n in counts])
        months = self.merge(self.split(True, counts, self.shares), self.split(False, others, self.shares))
        return months, lambda row, subsidised: row.update(subsidised=subsidised)

    def certificates(self, world: World) -> tuple[Months, Extra, Pick, float]:
        """Skill (I12) and professional (I13) certificates. Of the skill ones, HIGH_SKILL_SHARE
        at 高级工 or above go to persons never counted before, as many a month as move I11 along
        the city's path (its running highest); also returns the labour force that makes it so."""
        f = self.fractions["certificates"]
        skill, professional = self.city_counts("I12", f), self.city_counts("I13", f)
        base = self.plan.indicator("I11").baseline or 0.0
        path, top = [], base
        for v in self.city.city_series("I11"):
            top = max(top, v)
            path.append(top)
        per_point = HIGH_SKILL_SHARE * sum(skill) / max(path[-1] - base, 1e-9)  # new holders per 1 of I11
        high, owed = [], 0
        for n, want in zip(skill, self.whole([(b - a) * per_point for a, b in zip([base, *path], path, strict=False)]), strict=True):
            owed += want
            high.append(min(owed, n))
            owed -= high[-1]
        months = self.merge(
            self.split(("skill", True), high, self.shares),
            self.split(("skill", False), [n - h for n, h in zip(skill, high, strict=True)], self.shares),
            self.split(("professional", False), professional, self.shares),
        )
        levels = {
            True: _weighted(self.rng, tuple(p for p in LEVELS["skill"] if p[0] in HIGH_SKILL)),
            False: _weighted(self.rng, tuple(p for p in LEVELS["skill"] if p[0] not in HIGH_SKILL)),
            "professional": _weighted(self.rng, LEVELS["professional"]),
        }

        def extra(row: dict[str, Any], tag: tuple[str, bool]) -> None:
            cert_type, top_level = tag
            row["cert_type"], row["level"] = cert_type, levels[top_level if cert_type == "skill" else cert_type]()
            if top_level:
                world.high_skill.setdefault(row["org_unit"], set()).add(row["id_number"])

        once = Draw(self.rng, world.everyone)
        labour_force = per_point * 10_000 / f  # I11 = (2020 stock + new holders / f) / labour force × 10,000
        return months, extra, lambda code, tag, _day: once() if tag[1] else self.resident(world, code), labour_force

    def postdocs(self, world: World) -> tuple[Months, Extra, Pick]:
        """The intake (I14) split among stations' org units; a station is drawn per row."""
        weights: dict[str, float] = {}
        for _, code, w in POSTDOC_STATIONS:
            weights[code] = weights.get(code, 0.0) + w
        stations = {
            code: _weighted(self.rng, tuple((name, w) for name, c, w in POSTDOC_STATIONS if c == code)) for code in weights
        }
        once = Draw(self.rng, world.scholars or world.everyone)
        months = self.split(None, self.city_counts("I14", self.fractions["postdocs"]), weights)
        return months, lambda row, _tag: row.update(station=stations[row["org_unit"]]()), lambda *_: once()

    def ecards(self, world: World) -> tuple[Months, Pick]:
        """First applications, each person once: as many by each month's end as lift the city's
        coverage from ECARD_HOLDERS_2020 to its figure (I18, its running highest), each month's
        split among the units by their residents."""
        top, wanted = 0.0, []
        everybody = sum(world.population.values())
        for v in self.city.city_series("I18"):
            top = max(top, v / 100)
            wanted.append(max(0, round((top - ECARD_HOLDERS_2020) * everybody)))
        months: Months = {}
        drawn = dict.fromkeys(world.population, 0)
        for first, a, b in zip(self.firsts, [0, *wanted], wanted, strict=False):
            room = {code: float(len(world.pools.get(code, [])) - drawn[code]) for code in drawn}
            for code, n in largest_remainder(b - a, {c: world.population[c] * (r > 0) for c, r in room.items()}).items():
                n = min(n, int(room[code]))
                if n > 0:
                    drawn[code] += n
                    months.setdefault(first, []).append((code, None, n))
        queue = {code: iter(self.rng.sample(world.pools.get(code, []), n)) for code, n in drawn.items()}
        return months, lambda code, _tag, _day: next(queue[code])

    def ratings(self) -> tuple[Months, Extra]:
        """Ratings (I19): each month as many, and as many good ones, as the city's figures say."""
        f = self.fractions["service_ratings"]
        parts = self.city.parts["I19"]
        total = self.whole([(p[1] if p else 0.0) * f for p in parts])
        good = [min(g, n) for g, n in zip(self.whole([(p[0] if p else 0.0) * f for p in parts]), total, strict=True)]
        months = self.merge(self.split(True, good, self.shares),
                             self.split(False, [n - g for n, g in zip(total, good, strict=True)], self.shares))  # fmt: skip
        channel = _weighted(self.rng, CHANNELS)
        rating = {True: _weighted(self.rng, GOOD_RATINGS), False: _weighted(self.rng, OTHER_RATINGS)}
        return months, lambda row, ok: row.update(channel=channel(), rating=rating[ok]())

    def cases(self) -> tuple[Months, Extra]:
        """Cases as many a month as the city's rates count (by due month: I15, I17; by closing
        month: I16), and as many closed in time (or mediated successfully); a case is filed
        its deadline's worth of months before it is counted."""
        rng, f = self.rng, self.fractions["cases"]
        parts = []
        for kind, case in CASES.items():
            figures = self.city.parts[case.indicator]
            total = self.whole([(p[1] if p else 0.0) * f for p in figures])
            good = [min(g, n) for g, n in zip(self.whole([(p[0] if p else 0.0) * f for p in figures]), total, strict=True)]
            shift = round(case.days_due / 30) if kind != "mediation" else 0
            parts.append(self.split((kind, True), good, self.shares, shift))
            parts.append(self.split((kind, False), [n - g for n, g in zip(total, good, strict=True)], self.shares, shift))
        outcomes = {kind: _weighted(rng, c.outcomes) for kind, c in CASES.items()}

        def extra(row: dict[str, Any], tag: tuple[str, bool]) -> None:
            kind, good = tag
            case, opened = CASES[kind], row["event_date"]
            due = opened + timedelta(days=case.days_due)
            closed: date | None
            if kind == "mediation":  # good: mediated successfully; closed in the month it is counted, by the due date
                month_end = (opened.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
                closed = opened + timedelta(days=rng.randint(1, max(1, min(case.days_due, (month_end - opened).days))))
                outcome = "success" if good else "failed"
            else:  # good: closed by the due date, else 1–90 days late
                outcome = outcomes[kind]()
                late = rng.randint(1, 90)
                closed = opened + timedelta(days=rng.randint(1, case.days_due)) if good else due + timedelta(days=late)
            if closed > PERIOD_END:
                closed = None  # still open when the data end
            row.update(kind=kind, due_date=due, closed_date=closed, outcome=outcome if closed else None)

        return self.merge(*parts), extra

    # reference -----------------------------------------------------------------------

    def reference(self, world: World, labour_force: float) -> Iterator[dict[str, Any]]:
        """The statistics bureau's figures for the whole city (never scaled), per leaf unit and
        year: residents = the unit's persons / the register's fraction; the labour force so that
        new high-skill holders move I11 along the city's path; the urban labour force so that
        the year-end unemployed give the city's December I02. A unit without such events gets
        the others' ratio to residents, and the city total is kept."""
        rng = self.rng
        register, employment = self.fractions["persons"], self.fractions["employment_registrations"]
        codes = [u.code for u in self.units]
        people = {c: world.population.get(c, 0) / register for c in codes}
        base = (self.plan.indicator("I11").baseline or 0.0) / 10_000
        labour = _to_total(_fill_by_residents({c: float(len(world.high_skill.get(c, ()))) for c in codes}, people), labour_force)
        i02 = self.city.city_series("I02")
        december = {y: i02[(y - self.plan.start_year) * 12 + 11] / 100 for y in YEAR_ENDS}
        urban = {}
        for year, rate in december.items():
            stock = {c: world.unemployed.get(c, {}).get(year, 0) / employment for c in codes}
            raw = _fill_by_residents({c: n * rng.uniform(0.95, 1.05) for c, n in stock.items()}, people)
            urban[year] = _to_total(raw, sum(stock.values()) / rate)
        for code in codes:
            for year in YEAR_ENDS:
                yield {
                    "org_unit": code,
                    "year": year,
                    "resident_population": round(people[code]),
                    "labour_force": round(labour[code]),
                    "urban_labour_force": round(urban[year][code]),
                    "high_skill_2020": round(labour[code] * base),
                    "ecard_holders_2020": round(round(people[code]) * ECARD_HOLDERS_2020),
                }


def _fill_by_residents(values: dict[str, float], people: dict[str, float]) -> dict[str, float]:
    """Zero values replaced by residents × the ratio of the non-zero values to their residents."""
    known = [c for c, v in values.items() if v > 0]
    ratio = sum(values[c] for c in known) / max(sum(people[c] for c in known), 1)
    return {c: v if v > 0 else people[c] * ratio for c, v in values.items()}


def _to_total(values: dict[str, float], total: float) -> dict[str, float]:
    """values scaled to add up to total."""
    have = sum(values.values())
    return {c: v * total / have if have else 0.0 for c, v in values.items()}
