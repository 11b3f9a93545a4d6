"""The authoring API and load-time validation, on real project folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import weir
from weir.errors import ConfigError, ProjectError
from weir.model.mappings import Auto, Previous
from weir.project.loader import load_project

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-10")
_private = weir.monthly(start="2024-01", end="2024-02")

landing = weir.source("landing", path="landing/{partition}.csv", partitions=days, owners="ingest@example.com")
regions = weir.source("regions", path="ref/regions.parquet")


@weir.asset(partitions=days, description="Typed rows")
def cleaned(landing: pd.DataFrame) -> pd.DataFrame:
    return landing.dropna()


@weir.asset(partitions=days, inputs={"today": "cleaned", "yesterday": weir.upstream("cleaned", weir.previous(1))})
def day_over_day(today, yesterday, context):
    """Change against the day before.

    More words that are not the description.
    """
    return today


@weir.asset
def everything(daily_summary, regions):
    return daily_summary


board = weir.insight("board", depends_on=["everything"], owners=["boss@example.com"], url="https://dash.example/b")
'''

SUMMARY_SQL = """\
-- partitions: days
-- description: Rows per day
-- owners: analytics@example.com, bi@example.com
SELECT count(*) AS n, $partition_key AS day FROM cleaned
"""


def _error(exc_type, root: Path) -> str:
    with pytest.raises(exc_type) as info:
        load_project(root)
    return str(info.value)


# -- a valid project ----------------------------------------------------------------------


@pytest.fixture
def project(make_project):
    return load_project(make_project({"assets.py": ASSETS, "sql/daily_summary.sql": SUMMARY_SQL}))


def test_loads_sources_assets_sql_assets_and_insights(project):
    assert project.name == "demo"
    assert sorted(project.sources) == ["landing", "regions"]
    assert sorted(project.assets) == ["cleaned", "daily_summary", "day_over_day", "everything"]
    assert sorted(project.insights) == ["board"]


def test_order_puts_upstreams_first(project):
    order = list(project.order)
    assert order.index("landing") < order.index("cleaned") < order.index("daily_summary") < order.index("everything")
    assert order.index("cleaned") < order.index("day_over_day")
    assert set(order) == set(project.sources) | set(project.assets)


def test_upstream_is_named_by_the_parameter(project):
    cleaned = project.assets["cleaned"]
    assert list(cleaned.inputs) == ["landing"]
    assert cleaned.inputs["landing"].upstream == "landing"
    assert isinstance(cleaned.inputs["landing"].mapping, Auto)
    assert cleaned.fn is not None and cleaned.sql is None


def test_context_parameter_is_not_an_upstream(project):
    dod = project.assets["day_over_day"]
    assert dod.wants_context
    assert "context" not in dod.inputs
    assert not project.assets["cleaned"].wants_context


def test_inputs_rename_and_previous_mapping(project):
    dod = project.assets["day_over_day"]
    assert dod.inputs["today"].upstream == "cleaned"
    assert isinstance(dod.inputs["today"].mapping, Auto)
    assert dod.inputs["yesterday"].upstream == "cleaned"
    assert dod.inputs["yesterday"].mapping == Previous(n=1)
    assert project.upstreams("day_over_day") == ["cleaned"]


def test_description_comes_from_the_first_docstring_paragraph(project):
    assert project.assets["day_over_day"].description == "Change against the day before."
    assert project.assets["cleaned"].description == "Typed rows"


def test_sql_file_is_an_asset_configured_by_its_header(project):
    summary = project.assets["daily_summary"]
    assert summary.sql is not None and summary.fn is None
    assert summary.partitions == weir.daily(start="2024-01-01", end="2024-01-10")
    assert summary.description == "Rows per day"
    assert summary.owners == ("analytics@example.com", "bi@example.com")
    assert list(summary.inputs) == ["cleaned"]
    assert summary.inputs["cleaned"].frame == "arrow"
    assert summary.location.file.endswith("daily_summary.sql")


def test_unpartitioned_asset_reads_partitioned_and_unpartitioned_upstreams(project):
    everything = project.assets["everything"]
    assert not everything.partitions.is_partitioned
    assert sorted(everything.upstream_names) == ["daily_summary", "regions"]


def test_insight_links_to_its_assets(project):
    board = project.insights["board"]
    assert board.depends_on == ("everything",)
    assert board.owners == ("boss@example.com",)
    assert project.insights_on("everything") == ["board"]


def test_lineage_helpers(project):
    assert project.downstreams("cleaned") == ["daily_summary", "day_over_day"]
    assert project.closure(["daily_summary"], upstream=True) == [
        n for n in project.order if n in {"landing", "cleaned", "daily_summary"}
    ]


def test_objects_carry_the_project_name_and_location(project):
    cleaned = project.assets["cleaned"]
    assert cleaned.project == "demo"
    assert cleaned.location.file.endswith("assets.py") and cleaned.location.line > 0
    assert project.sources["landing"].owners == ("ingest@example.com",)


def test_defaults_from_weir_toml_apply_where_the_asset_sets_none(make_project):
    toml = (
        '[project]\nname = "demo"\n\n'
        '[defaults]\nowners = ["team@example.com"]\nretry = { attempts = 3, backoff = 0.5 }\n'
    )
    root = make_project(
        {
            "weir.toml": toml,
            "assets.py": """
                import weir

                @weir.asset
                def plain(context):
                    return None

                @weir.asset(owners="me@example.com", retry=2)
                def own(context):
                    return None
            """,
        }
    )
    p = load_project(root)
    assert p.assets["plain"].owners == ("team@example.com",)
    assert p.assets["plain"].retry == weir.Retry(attempts=3, backoff=0.5)
    assert p.assets["own"].owners == ("me@example.com",)
    assert p.assets["own"].retry.attempts == 2


def test_modules_listed_in_weir_toml_are_the_only_ones_imported(make_project):
    root = make_project(
        {
            "weir.toml": '[project]\nname = "demo"\nmodules = ["assets"]\n',
            "assets.py": "import weir\n\n@weir.asset\ndef a(context):\n    return None\n",
            "scratch.py": "raise RuntimeError('not part of the project')\n",
        }
    )
    assert list(load_project(root).assets) == ["a"]


def test_sibling_modules_come_from_this_projects_folder(make_project):
    # Two projects of the same name loaded in one process each see their own helper module.
    files = {
        "weir.toml": '[project]\nname = "twin"\nmodules = ["assets"]\n',
        "assets.py": "import weir\nfrom . import helpers\n\nsrc = weir.source(helpers.NAME, path='x.csv')\n",
    }
    first = make_project({**files, "helpers.py": "NAME = 'first'\n"}, name="one")
    second = make_project({**files, "helpers.py": "NAME = 'second'\n"}, name="two")
    assert list(load_project(first).sources) == ["first"]
    assert list(load_project(second).sources) == ["second"]


# -- code versions ------------------------------------------------------------------------

VERSIONED = '''
import weir

@weir.asset(description="{description}")
def scored(context):
    """{doc}"""
    return {body}
'''


def _code_version(make_project, name: str, **parts: str) -> str:
    values = {"description": "Scores", "doc": "Scored rows.", "body": "1"} | parts
    root = make_project({"assets.py": VERSIONED.format(**values)}, name=name)
    return load_project(root).assets["scored"].code_version


def test_code_version_is_stable_across_loads(make_project):
    assert _code_version(make_project, "v1") == _code_version(make_project, "v2")


def test_code_version_changes_when_the_body_changes(make_project):
    assert _code_version(make_project, "v1") != _code_version(make_project, "v2", body="2")


def test_code_version_ignores_the_description(make_project):
    base = _code_version(make_project, "v1")
    assert _code_version(make_project, "v2", description="Scores, better described") == base
    assert _code_version(make_project, "v3", doc="A new docstring.") == base


def test_code_version_changes_with_partitions_and_inputs():
    def f(x):
        return x

    base = weir.asset(f).code_version
    assert weir.asset(f, partitions=weir.daily(start="2024-01-01", end="2024-01-02")).code_version != base
    assert weir.asset(f, inputs={"x": weir.upstream("x", weir.previous(1))}).code_version != base


def test_code_version_of_edited_file_in_place(make_project):
    root = make_project({"assets.py": VERSIONED.format(description="d", doc="x", body="1")})
    before = load_project(root).assets["scored"].code_version
    (root / "assets.py").write_text(VERSIONED.format(description="d", doc="x", body="1 + 41"))
    assert load_project(root).assets["scored"].code_version != before


# -- authoring errors outside a project --------------------------------------------------


def test_varargs_cannot_name_upstreams():
    with pytest.raises(ConfigError, match=r"\*args/\*\*kwargs"):

        @weir.asset
        def bad(*frames):
            return None


def test_inputs_must_be_parameters():
    with pytest.raises(ConfigError, match=r"inputs \['other'\] are not parameters"):

        @weir.asset(inputs={"other": "x"})
        def bad(a):
            return a


def test_source_format_must_be_known():
    with pytest.raises(ConfigError, match="cannot tell the format"):
        weir.source("s", path="data/file.xlsx")


def test_partitioned_source_needs_partition_in_path():
    with pytest.raises(ConfigError, match=r"needs '\{partition\}'"):
        weir.source("s", path="data/all.csv", partitions=weir.daily(start="2024-01-01", end="2024-01-02"))


def test_insight_needs_a_dependency():
    with pytest.raises(ConfigError, match="at least one asset"):
        weir.insight("empty", depends_on=[])


# -- load errors name the file and the object ---------------------------------------------


def test_unknown_upstream_suggests_the_close_name(make_project):
    root = make_project(
        {
            "assets.py": """
                import weir

                @weir.asset
                def cleaned(context):
                    return None

                @weir.asset
                def summary(cleand):
                    return cleand
            """
        }
    )
    msg = _error(ProjectError, root)
    assert "asset 'summary' reads unknown upstream 'cleand'" in msg
    assert "did you mean 'cleaned'?" in msg
    assert f"{root / 'assets.py'}:8" in msg


def test_unknown_upstream_in_sql_file_is_dropped_only_when_inferred(make_project):
    # FROM names that are not project objects (e.g. DuckDB functions) are not upstreams...
    ok = make_project({"sql/nums.sql": "SELECT * FROM range(3)\n"}, name="inferred")
    assert load_project(ok).assets["nums"].inputs == {}
    # ...but a depends_on header is taken at its word.
    bad = make_project({"sql/nums.sql": "-- depends_on: missing_table\nSELECT 1\n"}, name="declared")
    msg = _error(ProjectError, bad)
    assert "asset 'nums' reads unknown upstream 'missing_table'" in msg
    assert "nums.sql" in msg


def test_cycle_is_an_error_naming_the_assets(make_project):
    root = make_project(
        {
            "assets.py": """
                import weir

                @weir.asset
                def first(second):
                    return second

                @weir.asset
                def second(first):
                    return first
            """
        }
    )
    msg = _error(ProjectError, root)
    assert "cycle between assets" in msg
    assert "first" in msg and "second" in msg
    assert "assets.py" in msg


def test_duplicate_name_across_two_modules_names_both_files(make_project):
    root = make_project(
        {
            "a.py": "import weir\n\n@weir.asset\ndef cleaned(context):\n    return None\n",
            "b.py": "import weir\n\n\n@weir.asset\ndef cleaned(context):\n    return 1\n",
        }
    )
    msg = _error(ProjectError, root)
    assert "duplicate name 'cleaned'" in msg
    assert f"{root / 'a.py'}:3" in msg and f"{root / 'b.py'}:4" in msg


def test_duplicate_name_between_sql_file_and_python_asset(make_project):
    root = make_project(
        {"assets.py": "import weir\n\n@weir.asset\ndef n(context):\n    return None\n", "sql/n.sql": "SELECT 1 AS x\n"}
    )
    msg = _error(ProjectError, root)
    assert "duplicate name 'n'" in msg and "n.sql" in msg and "assets.py" in msg


def test_mapping_that_cannot_work_names_asset_and_input(make_project):
    root = make_project(
        {
            "assets.py": """
                import weir

                days = weir.daily(start="2024-01-01", end="2024-01-10")
                regions = weir.static(["eu", "us"])

                @weir.asset(partitions=regions)
                def by_region(context):
                    return None

                @weir.asset(partitions=days)
                def by_day(by_region):
                    return by_region
            """
        }
    )
    msg = _error(ProjectError, root)
    assert "asset 'by_day', input 'by_region'" in msg
    assert "cannot map static(eu, us) onto daily" in msg
    assert f"{root / 'assets.py'}:11" in msg


def test_previous_across_kinds_is_an_error(make_project):
    root = make_project(
        {
            "assets.py": """
                import weir

                days = weir.daily(start="2024-01-01", end="2024-01-10")
                months = weir.monthly(start="2024-01", end="2024-02")

                @weir.asset(partitions=months)
                def monthly(context):
                    return None

                @weir.asset(partitions=days, inputs={"monthly": weir.previous(1)})
                def daily_view(monthly):
                    return monthly
            """
        }
    )
    msg = _error(ProjectError, root)
    assert "asset 'daily_view', input 'monthly': previous(1) needs both sides on the same partition kind" in msg


def test_bad_partition_range_names_the_line(make_project):
    root = make_project(
        {"assets.py": 'import weir\n\n\ndays = weir.daily(start="2024-02-01", end="2024-01-01")\n'}
    )
    msg = _error(ConfigError, root)
    assert "start '2024-02-01' is after end '2024-01-01'" in msg
    assert f"{root / 'assets.py'}:4" in msg


def test_unknown_time_zone_in_a_module_names_the_line(make_project):
    code = 'import weir\ndays = weir.daily(start="2024-01-01", end="2024-01-02", tz="Nowhere/X")\n'
    root = make_project({"assets.py": code})
    msg = _error(ConfigError, root)
    assert "unknown time zone 'Nowhere/X'" in msg and f"{root / 'assets.py'}:2" in msg


def test_import_error_names_module_file_and_line(make_project):
    root = make_project({"assets.py": "import weir\n\nimport weir_no_such_package_xyz\n"})
    msg = _error(ConfigError, root)
    assert "importing module 'assets' failed: ModuleNotFoundError" in msg
    assert "weir_no_such_package_xyz" in msg
    assert f"{root / 'assets.py'}:3" in msg


def test_exception_raised_by_module_code_names_the_line(make_project):
    root = make_project({"assets.py": "import weir\n\nx = 1\ny = x / 0\n"})
    msg = _error(ConfigError, root)
    assert "ZeroDivisionError" in msg and f"{root / 'assets.py'}:4" in msg


def test_syntax_error_names_file_and_line(make_project):
    root = make_project({"assets.py": "import weir\n\n\ndef broken(:\n    pass\n"})
    msg = _error(ConfigError, root)
    assert "SyntaxError" in msg
    assert f"{root / 'assets.py'}:4" in msg


def test_failed_import_leaves_no_module_behind(make_project):
    import sys

    root = make_project({"assets.py": "import weir\nraise RuntimeError('boom')\n"}, name="leaky")
    _error(ConfigError, root)
    assert "weir_project_leaky.assets" not in sys.modules


def test_scripts_that_do_not_import_weir_are_not_imported(make_project):
    from weir.project.loader import load_project

    root = make_project({
        "assets.py": "import weir\nraw = weir.source('raw', path='raw.csv')\n",
        "land.py": "import sys\nraise SystemExit(int(sys.argv[1]))  # a script run by hand, not a module\n",
    })
    assert set(load_project(root).sources) == {"raw"}


def test_missing_weir_toml(tmp_path):
    (tmp_path / "assets.py").write_text("import weir\n")
    msg = _error(ConfigError, tmp_path)
    assert "no weir.toml here" in msg and str(tmp_path) in msg


def test_malformed_toml_names_the_file(make_project):
    root = make_project({"weir.toml": '[project\nname = "demo"\n'})
    msg = _error(ConfigError, root)
    assert "invalid TOML" in msg and str(root / "weir.toml") in msg


@pytest.mark.parametrize(
    "toml, key",
    [
        ('[project]\nname = "demo"\ncolour = "blue"\n', "colour"),
        ('[project]\nname = "demo"\n\n[defaults]\nowner = ["x"]\n', "owner"),
        ('[project]\nname = "demo"\n\n[extras]\na = 1\n', "extras"),
    ],
)
def test_unknown_key_in_weir_toml_is_named(make_project, toml, key):
    root = make_project({"weir.toml": toml})
    msg = _error(ConfigError, root)
    assert "unknown key" in msg and key in msg and "allowed" in msg
    assert str(root / "weir.toml") in msg


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ("[other]\n", "unknown key"),
        ('[project]\ndescription = "no name"\n', "project.name None"),
        ('[project]\nname = "my-project"\n', "project.name 'my-project'"),
        ('[project]\nname = "demo"\nmodules = ["nope"]\n', "neither nope.py nor nope/__init__.py"),
        ('[project]\nname = "demo"\nmodules = 3\n', "project.modules must be a list of strings"),
        ('[project]\nname = "demo"\n\n[defaults]\nretry = { attempts = 0 }\n', "defaults.retry"),
        ('[project]\nname = "demo"\n\n[defaults]\nretry = { tries = 2 }\n', "defaults.retry"),
    ],
)
def test_invalid_weir_toml_fields(make_project, toml, fragment):
    root = make_project({"weir.toml": toml})
    msg = _error(ConfigError, root)
    assert fragment in msg and str(root / "weir.toml") in msg


def test_unknown_sql_header_key_names_file_and_line(make_project):
    root = make_project({"sql/report.sql": "-- description: fine\n-- colour: blue\nSELECT 1 AS x\n"})
    msg = _error(ConfigError, root)
    assert "unknown header key 'colour'" in msg
    assert f"{root / 'sql' / 'report.sql'}:2" in msg


def test_ordinary_sql_comments_are_not_header_keys(make_project):
    root = make_project({"sql/report.sql": "-- Note: counts rows, see README\n-- TODO later\nSELECT 1 AS x\n"})
    assert "report" in load_project(root).assets


def test_sql_header_naming_unknown_scheme(make_project):
    root = make_project(
        {
            "assets.py": 'import weir\n\ndays = weir.daily(start="2024-01-01", end="2024-01-02")\n',
            "sql/report.sql": "-- partitions: dayz\nSELECT 1 AS x\n",
        }
    )
    msg = _error(ConfigError, root)
    assert "partitions 'dayz' names no partition scheme" in msg
    assert "known: days" in msg
    assert f"{root / 'sql' / 'report.sql'}:1" in msg


def test_sql_header_cannot_name_a_private_scheme(make_project):
    root = make_project(
        {
            "assets.py": 'import weir\n\n_days = weir.daily(start="2024-01-01", end="2024-01-02")\n',
            "sql/report.sql": "-- partitions: _days\nSELECT 1 AS x\n",
        }
    )
    assert "names no partition scheme" in _error(ConfigError, root)


def test_sql_header_bad_retry(make_project):
    root = make_project({"sql/report.sql": "-- retry: twice\nSELECT 1 AS x\n"})
    msg = _error(ConfigError, root)
    assert "retry must be a number of attempts" in msg and "report.sql:1" in msg


def test_insight_on_unknown_asset(make_project):
    root = make_project(
        {
            "assets.py": """
                import weir

                @weir.asset
                def revenue(context):
                    return None

                dash = weir.insight("dash", depends_on=["revenu"])
            """
        }
    )
    msg = _error(ProjectError, root)
    assert "insight 'dash' depends on unknown asset 'revenu'" in msg
    assert "did you mean 'revenue'?" in msg
    assert f"{root / 'assets.py'}:8" in msg


@pytest.mark.parametrize(
    "code, fragment",
    [
        ("@weir.asset(name='bad-name')\ndef f(context):\n    return None\n", "asset name 'bad-name'"),
        ("s = weir.source('1st', path='a.csv')\n", "source name '1st'"),
        ("i = weir.insight('has space', depends_on=['x'])\n", "insight name 'has space'"),
    ],
)
def test_invalid_names_are_errors_naming_the_file(make_project, code, fragment):
    root = make_project({"assets.py": "import weir\n\n" + code})
    msg = _error(ConfigError, root)
    assert fragment in msg and "must be letters, digits and '_'" in msg
    assert str(root / "assets.py") in msg


def test_invalid_sql_file_name(make_project):
    root = make_project({"sql/daily-report.sql": "SELECT 1 AS x\n"})
    msg = _error(ConfigError, root)
    assert "asset name 'daily-report'" in msg and "daily-report.sql" in msg


def test_a_sql_asset_reading_an_unknown_table_fails_at_load_with_a_suggestion(make_project):
    assets = (
        "import weir\n"
        'orders = weir.source("orders", path="orders.csv")\n'
    )
    ok = make_project({"assets.py": assets, "sql/report.sql": (
        "WITH o AS (SELECT * FROM orders)\n"
        "SELECT extract(year FROM ts) AS y, count(*) AS n FROM o WHERE id IN (SELECT id FROM orders) GROUP BY 1\n"
    )}, name="ok")
    assert load_project(ok).upstreams("report") == ["orders"]
    bad = make_project({"assets.py": assets, "sql/report.sql": "SELECT * FROM ordrs WHERE day = $partition_key\n"},
                       name="typo")
    with pytest.raises(ProjectError, match=r"report.sql.*reads 'ordrs', which is no asset or source.*did you mean 'orders'"):
        load_project(bad)


def test_a_sql_asset_reading_an_unknown_table_cites_the_line_that_reads_it(make_project):
    assets = 'import weir\norders = weir.source("orders", path="orders.csv")\ncustomers = weir.source("customers", path="c.csv")\n'
    sql = ("-- description: orders per customer\n"
           "-- owners: data@example.com\n"
           "SELECT c.name, count(*) AS n\n"
           "FROM orders o\n"
           "JOIN custmers c ON c.id = o.customer  -- customers, misspelt\n"
           "GROUP BY 1\n")
    root = make_project({"assets.py": assets, "sql/report.sql": sql})
    msg = _error(ProjectError, root)
    assert f"{root / 'sql' / 'report.sql'}:5" in msg and "reads 'custmers'" in msg and "did you mean 'customers'" in msg
    inline = make_project({"assets.py": assets + (
        "report = weir.sql_asset(\n"
        "    'report',\n"
        "    \"\"\"\n"
        "    SELECT count(*) AS n\n"
        "    FROM\n"
        "      ordrs\n"
        "    \"\"\",\n"
        ")\n")}, name="inline")
    assert f"{inline / 'assets.py'}:9" in _error(ProjectError, inline)


def test_two_folders_cannot_share_a_project_name_in_one_workspace(tmp_path):
    import json

    from conftest import weir_cli, write_project

    assets = "import pandas as pd\nimport weir\n\n@weir.asset\ndef a(context):\n    return pd.DataFrame({'x': [1]})\n"
    first = write_project(tmp_path / "one", {"assets.py": assets}, name="shop")
    second = write_project(tmp_path / "two", {"assets.py": assets.replace("[1]", "[2]")}, name="shop")
    ws = tmp_path / "ws"
    weir_cli(ws, first, "run", "--executor", "inprocess")
    refused = weir_cli(ws, second, "run", "--executor", "inprocess", expect=2)
    assert "project 'shop' is deployed in this workspace from" in refused.stderr and str(first) in refused.stderr
    assert "weir deploy" in refused.stderr  # the way out: deploy it from the new folder
    assert "two/weir.toml" in refused.stderr
    assert json.loads(weir_cli(ws, first, "read", "a", "--format", "json").stdout) == [{"x": 1}]  # untouched


def test_a_folder_whose_project_name_another_holds_may_read_with_a_warning_but_not_repair_or_vacuum(tmp_path):
    import json

    from conftest import weir_cli, write_project

    assets = "import pandas as pd\nimport weir\n\n@weir.asset\ndef a(context):\n    return pd.DataFrame({'x': [1]})\n"
    first = write_project(tmp_path / "one", {"assets.py": assets}, name="shop")
    second = write_project(tmp_path / "two", {"assets.py": assets.replace("[1]", "[2]")}, name="shop")
    ws = tmp_path / "ws"
    weir_cli(ws, first, "run", "--executor", "inprocess")
    refused = weir_cli(ws, second, "run", "--executor", "inprocess", expect=2).stderr
    assert len(refused.strip().splitlines()) == 1
    for command in (["doctor", "--repair"], ["vacuum"], ["vacuum", "--older-than", "0"]):
        assert weir_cli(ws, second, *command, expect=2).stderr == refused  # the same one line, nothing done
    assert weir_cli(ws, second, "vacuum", "--dry-run").returncode == 0  # changes nothing
    for command in (["status"], ["read", "a", "--format", "json"], ["history", "a"], ["metrics", "a"]):
        out = weir_cli(ws, second, *command)
        [warning] = out.stderr.strip().splitlines()
        assert warning.startswith("warning: project name 'shop' belongs to ") and str(first) in warning
    assert json.loads(weir_cli(ws, second, "read", "a", "--format", "json").stdout) == [{"x": 1}]
    mine = weir_cli(ws, first, "status")
    assert mine.stderr == "" and weir_cli(ws, first, "doctor", "--repair").stderr == ""


def test_an_asset_key_is_kept_as_a_tuple_and_a_sql_header_can_declare_one(make_project):
    root = make_project({
        "assets.py": """
            import pandas as pd
            import weir

            @weir.asset(key=["carrier", "flight"])
            def flights():
                return pd.DataFrame({"carrier": ["AA"], "flight": [1]})
        """,
        "sql/per_carrier.sql": "-- key: carrier\nSELECT carrier, count(*) AS n FROM flights GROUP BY carrier\n",
    })
    project = load_project(root)
    assert project.assets["flights"].key == ("carrier", "flight")
    assert project.assets["per_carrier"].key == ("carrier",)


@pytest.mark.parametrize(("key", "fragment"), [
    ('"carrier"', None),
    ('[]', None),
    ('["carrier", "carrier"]', "names column 'carrier' twice"),
    ('["partition_key"]', "reserves for the partition key"),
    ('[1]', "must be a list of column names"),
    ('[""]', "must be a list of column names"),
])
def test_a_bad_asset_key_is_an_error_naming_the_file(make_project, key, fragment):
    root = make_project({"assets.py": f"""
        import pandas as pd
        import weir

        @weir.asset(key={key})
        def flights():
            return pd.DataFrame({{"carrier": ["AA"]}})
    """})
    if fragment is None:  # one name is a key of one column; an empty list is no key
        assert load_project(root).assets["flights"].key == (("carrier",) if key != "[]" else ())
        return
    with pytest.raises(ConfigError) as err:
        load_project(root)
    assert fragment in str(err.value) and "assets.py" in str(err.value)
