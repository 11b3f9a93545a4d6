"""One way to audit a partition: a build, ``weir check`` on the published partition and the
source gate all go through ``audit_partition`` and agree on the same data."""

from __future__ import annotations

from conftest import land_csv

from weir.workspace import RunRequest, Workspace

PROJECT = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-02")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days,
                  checks=[weir.checks.not_null("x", mostly=0.5, severity="warn")])
carriers = weir.source("carriers", path="carriers.csv")

@weir.asset(partitions=days, checks=[
    weir.checks.not_null("x", severity="warn"),
    weir.checks.references("carrier", to="carriers", severity="warn"),
    weir.checks.row_count(min=1),
])
def clean(raw):
    return raw
'''


def test_a_build_and_a_recheck_of_the_published_partition_agree(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land_csv(project, "carriers.csv", [{"carrier": "AA"}, {"carrier": "UA"}])
    land_csv(project, "landing/2024-01-01.csv",
             [{"id": 1, "x": 1.5, "carrier": "AA"}, {"id": 2, "x": None, "carrier": "ZZ"}, {"id": 3, "x": 2.0, "carrier": "UA"}])
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        built = {r["check_name"]: (r["passed"], r["failing_rows"]) for r in ws.quality.check_results("clean", "2024-01-01")}
        again = {r["check_name"]: (r["passed"], r["failing_rows"]) for r in ws.quality.recheck("clean", "2024-01-01")}
        source = {r["check_name"]: r["passed"] for r in ws.quality.check_results("raw", "2024-01-01")}
    assert result.ok
    assert built == again
    assert built["not_null(x)"] == (False, 1)
    ref = next(v for k, v in built.items() if k.startswith("references"))
    assert ref == (False, 1), built
    assert source == {"not_null(x)": True}  # 1 of 3 null passes mostly=0.5
