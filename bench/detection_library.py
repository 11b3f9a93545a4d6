"""Library faults through real environments, for the multi-day benchmark: a tiny package written
as two wheels (``weirbench-units`` 1.0 converts GW to MW, 2.0 to kW by mistake), a project venv
made with uv that runs weir, and the electricity data set's asset calling the package. The venv
reaches weir's dependencies and weir itself through ``.pth`` files (a layered venv, as
``tests/envs/test_rebuild_env.py`` makes it): nothing is downloaded.

Days are delivered as production does, by weir running in that venv (``detection_multiday.Year``
in a process of the venv's interpreter); before a fault's first day 2.0 is installed, the fault's
days are built under it and measured, fixed and cleaned up in that process, and 1.0 goes back
before the next clean day. The fix the incident prints rebuilds in the environment of the last
good build (``weir rebuild ... --env-of RUN``), a venv weir makes from its snapshot.

It is heavier than the other faults (a process per phase, a venv per rebuild environment), so it
runs on one data set, over its first ``DAYS`` days only: the warm-up, then one fault of each
duration."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE = "weirbench-units"
DAYS = 60
V1 = "def mw(gw):\n    return gw * 1000\n"
V2 = "def mw(gw):\n    return gw * 1_000_000  # kW: the conversion broke in 2.0\n"
ASSET = '''
import pandas as pd
import weirbench_units


@weir.asset(partitions=days, description="Demand (MW, converted by weirbench-units) and temperature per six-hour band")
def demand_bands(elec_landing: pd.DataFrame) -> pd.DataFrame:
    df = elec_landing.assign(band=pd.to_datetime(elec_landing["timestamp"]).dt.hour // 6,
                             demand_mw=weirbench_units.mw(elec_landing["Demand"]))
    return df.groupby("band", as_index=False).agg(
        readings=("Demand", "size"), demand_mean=("demand_mw", "mean"), demand_peak=("demand_mw", "max"),
        temperature_mean=("Temperature", "mean"), temperature_max=("Temperature", "max"),
        workday=("WorkDay", "max"),
    )
'''


def write_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel written by hand: the modules, METADATA, WHEEL and RECORD."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    entries = {**files, f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
               f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: weir-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    entries[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    out = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for path, text in entries.items():
            z.writestr(path, text)
    return out


def library_code(fault: str | None = None) -> str:
    """The project's ``assets.py``: the electricity source, the asset calling the package, the
    report and the insight (a library fault leaves the code as it is)."""
    from detection_faults import INSIGHT_CODE, STAGES
    from detection_sets import ELECTRICITY

    return ELECTRICITY.source_code + ASSET + STAGES["electricity"].report_code + INSIGHT_CODE


def library_plan(seed: int, quick: bool):
    """The first ``DAYS`` days of electricity, one library fault of each duration."""
    from detection_faults import DURATIONS, QUICK_DURATIONS, Fault, plan_faults
    from detection_sets import ELECTRICITY

    frames = ELECTRICITY.load(ELECTRICITY.last_day)
    days = sorted(frames)[:DAYS]
    frames = {d: frames[d] for d in days}
    faults = plan_faults(days, ("library",), QUICK_DURATIONS if quick else DURATIONS,
                         np.random.default_rng([seed, ELECTRICITY.salt, 5]))
    note = f"{PACKAGE} 1.0 -> 2.0 (GW to kW instead of MW)"
    faults = [Fault(index=f.index, kind=f.kind, days=f.days,
                    note=note + (f", {f.duration} days running" if f.duration > 1 else "")) for f in faults]
    return days, frames, faults, dict(frames)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "WEIR_HOME", "WEIR_DATABASE_URL")}


class Venv:
    """The project venv: made with uv, layered on this interpreter's site and weir's source."""

    def __init__(self, root: Path) -> None:
        import weir
        from weir.envs.uv import uv_binary

        self.uv_path = uv_binary()
        wheels = root / "wheels"
        wheels.mkdir(parents=True)
        self.v1 = write_wheel(wheels, PACKAGE, "1.0", {"weirbench_units/__init__.py": V1})
        self.v2 = write_wheel(wheels, PACKAGE, "2.0", {"weirbench_units/__init__.py": V2})
        self.path = root / "venv"
        self.uv("venv", "--quiet", "--python", os.path.realpath(sys.executable), str(self.path))
        code = "import sys, sysconfig; print(sysconfig.get_paths()['purelib'][len(sys.prefix) + 1:])"
        site = self.path / subprocess.run([str(self.python), "-I", "-c", code], capture_output=True, text=True,
                                          check=True).stdout.strip()
        (site / "_shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # weir's dependencies
        (site / "_weir.pth").write_text(str(Path(weir.__file__).resolve().parents[1]) + "\n")
        self.install(self.v1)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def uv(self, *args: str) -> None:
        subprocess.run([self.uv_path, *args], check=True, capture_output=True, env=_clean_env())

    def install(self, wheel: Path) -> None:
        self.uv("pip", "install", "--quiet", "--python", str(self.python), str(wheel))

    def deliver(self, root: Path, seed: int, quick: bool, until: int) -> None:
        """Deliver the days up to index ``until`` with weir running in this venv."""
        proc = subprocess.run([str(self.python), str(HERE / "detection_library.py"), str(root), str(seed),
                               "quick" if quick else "full", str(until)],
                              capture_output=True, text=True, env=_clean_env(), check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"the library story's delivery failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def run_library(seed: int, quick: bool, root: Path, progress=None) -> dict:
    """The library story: a venv, 1.0 on clean days and 2.0 on faulty ones, measured as the other
    faults are (``detection_multiday``)."""
    import shutil

    from detection_multiday import Ledger

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    venv = Venv(root)
    days, _, faults, _ = library_plan(seed, quick)
    year = root / "year"
    year.mkdir()
    for f in faults:
        venv.deliver(year, seed, quick, days.index(f.days[0]))
        venv.install(venv.v2)
        venv.deliver(year, seed, quick, days.index(f.days[-1]) + 1)
        venv.install(venv.v1)
        if progress is not None:
            progress(f.days[-1], days.index(f.days[-1]) + 1, len(days))
    ledger = Ledger.load(year)
    return {"dataset": "electricity", "seed": seed, "quick": quick, "days": len(days),
            "delivered_days": ledger.done, "faults": ledger.results, "errors": ledger.errors,
            "false_alarm_incidents": sum(1 for x in ledger.dismissed if not x["in_fault"] and not x.get("by_a_fix")),
            "seconds": time.perf_counter() - t0, "delivery_seconds": ledger.seconds}


def _deliver_here(root: Path, seed: int, quick: bool, until: int) -> None:
    """In the venv's interpreter: the reference (once), then the days up to ``until``."""
    from detection_multiday import Year
    from detection_sets import ELECTRICITY

    days, frames, faults, files = library_plan(seed, quick)
    year = Year(ELECTRICITY, root, days, frames, faults, files, code=library_code, name="multi_library")
    if not (root / "ref").exists():
        year.build_reference()
    year.open()
    try:
        year.deliver(until)
    finally:
        year.close()


if __name__ == "__main__":
    where, seed_text, size, until_text = sys.argv[1:5]
    _deliver_here(Path(where), int(seed_text), size == "quick", int(until_text))
    print(json.dumps({"done": until_text}))
