"""Discovery and configuration: finding the root, importing files, groups, sources."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import assetflow
from assetflow.errors import DefinitionError, ProjectNotFoundError
from assetflow.project import find_root, load_config


def test_load_finds_root_from_a_subfolder(make_project):
    root = make_project("basic")
    loaded = assetflow.load(cwd=root / "assets" / "staging")
    assert loaded.config.root == root.resolve()
    assert loaded.config.state_dir == root.resolve() / ".assetflow"


def test_find_root_ignores_pyproject_without_assetflow_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.assetflow]\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n# tool.assetflow in a comment\n")
    assert find_root(inner) == tmp_path.resolve()


def test_find_root_without_project_says_how_to_fix(tmp_path):
    with pytest.raises(ProjectNotFoundError, match="assetflow init"):
        find_root(tmp_path)


def test_load_config_precedence_flag_over_env_over_file(make_project, tmp_path):
    root = make_project("basic")
    env = {"ASSETFLOW_STATE": str(tmp_path / "from_env")}
    assert load_config(root, environ=env).state_dir == tmp_path / "from_env"
    flag = load_config(root, state=tmp_path / "from_flag", environ=env)
    assert flag.state_dir == tmp_path / "from_flag"
    (root / "pyproject.toml").write_text('[tool.assetflow]\nstate = "custom"\n')
    assert load_config(root, environ={}).state_dir == root.resolve() / "custom"


def test_load_config_env_project(make_project, tmp_path):
    root = make_project("basic")
    config = load_config(environ={"ASSETFLOW_PROJECT": str(root)}, cwd=tmp_path)
    assert config.root == root.resolve()


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[tool.assetflow]\nasets = "x"\n', "unknown setting 'asets'"),
        ("[tool.assetflow]\nkeep_versions = 'three'\n", "must be an integer"),
        ('[tool.assetflow]\nassets = "nowhere"\n', "'nowhere'"),
        ("[tool.assetflow\n", "invalid TOML"),
    ],
    ids=["unknown-key", "wrong-type", "missing-assets-folder", "bad-toml"],
)
def test_load_config_rejects_bad_config(make_project, toml, words):
    root = make_project("basic")
    (root / "pyproject.toml").write_text(toml)
    with pytest.raises(ProjectNotFoundError, match=words):
        load_config(root, environ={})


def test_discovery_finds_python_sql_and_sources(make_project):
    graph = assetflow.load(make_project("basic")).graph
    kinds = {a.name: a.kind for a in graph}
    assert kinds == {
        "numbers": "source",
        "base": "python",
        "doubled": "sql",
        "report": "python",
        "summary": "python",
    }


def test_discovery_private_helper_is_not_an_asset(make_project):
    graph = assetflow.load(make_project("basic")).graph
    assert "_scale" not in graph and "SCALE" not in graph


def test_discovery_groups_follow_nested_folders_unless_given(make_project):
    graph = assetflow.load(make_project("basic")).graph
    assert graph["base"].group == "default"
    assert graph["doubled"].group == "staging"
    assert graph["summary"].group == "marts/finance"
    assert graph["report"].group == "reports"


def test_discovery_context_is_not_an_upstream(make_project):
    graph = assetflow.load(make_project("basic")).graph
    assert graph["report"].upstream == ("base", "doubled")
    assert graph["report"].takes_context


def test_discovery_description_from_docstring_and_header(make_project):
    graph = assetflow.load(make_project("basic")).graph
    assert graph["base"].description == "Sum of the numbers, scaled."
    assert graph["doubled"].description == "Every number doubled."
    assert graph["doubled"].tags == {"core", "sql"}


def test_discovery_same_project_loads_twice_in_one_process(make_project):
    root = make_project("basic")
    path_before = list(sys.path)
    first = assetflow.load(root)
    (root / "assets" / "raw.py").write_text(
        (root / "assets" / "raw.py").read_text().replace("SCALE = 10", "SCALE = 20")
    )
    second = assetflow.load(root)
    assert sys.path == path_before
    assert first.project.package != second.project.package
    base1, base2 = first.graph["base"].fn, second.graph["base"].fn
    assert base1 is not base2
    assert base1.__globals__["SCALE"] == 10 and base2.__globals__["SCALE"] == 20


def test_discovery_relative_import_between_asset_files(make_project):
    root = make_project("basic")
    (root / "assets" / "_shared.py").write_text("FACTOR = 3\n")
    (root / "assets" / "uses_shared.py").write_text(
        "from assetflow import asset\nfrom ._shared import FACTOR\n\n\n"
        "@asset\ndef tripled(base):\n    return base * FACTOR\n"
    )
    graph = assetflow.load(root).graph
    assert graph["tripled"].fn.__globals__["FACTOR"] == 3
    assert "FACTOR" not in graph


def test_discovery_imported_asset_belongs_to_its_own_file(make_project):
    root = make_project("basic")
    (root / "assets" / "reexport.py").write_text("from .raw import base, numbers\n")
    graph = assetflow.load(root).graph
    assert graph["base"].file == "assets/raw.py"
    assert graph["numbers"].file == "assets/raw.py"


def test_discovery_names_a_linked_asset_file_by_its_target(make_project):
    root = make_project("basic")
    (root / "shared").mkdir()
    (root / "shared" / "extra.py").write_text(
        "from assetflow import asset\n\n\n@asset\ndef extra(base):\n    return base\n"
    )
    (root / "assets" / "extra.py").symlink_to(root / "shared" / "extra.py")
    assert assetflow.load(root).graph["extra"].file == "shared/extra.py"
    (root / "shared" / "extra.py").write_text("def broken(:\n")
    with pytest.raises(DefinitionError, match=r"^shared/extra\.py:1: syntax error"):
        assetflow.load(root)


def test_discovery_names_a_file_linked_from_outside_the_project_by_its_link(make_project, tmp_path):
    root = make_project("basic")
    outside = tmp_path / "elsewhere.py"
    outside.write_text(
        "from assetflow import asset\n\n\n@asset\ndef extra(base):\n    return base\n"
    )
    (root / "assets" / "extra.py").symlink_to(outside)
    loaded = assetflow.load(root)
    assert loaded.graph["extra"].file == (loaded.config.assets_dir / "extra.py").as_posix()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("@asset\ndef f(*args):\n    return 1\n", r"takes \*arguments"),
        ("@asset\ndef f(**kw):\n    return 1\n", r"takes \*\*arguments"),
        ("@asset\ndef f(a, /):\n    return 1\n", "positional-only parameter 'a'"),
        ("@asset\ndef _f():\n    return 1\n", "starts with '_'"),
        ("@asset(colour='red')\ndef f():\n    return 1\n", "unknown option 'colour'"),
        ("@asset(retries='3')\ndef f():\n    return 1\n", "retries='3' must be an integer"),
        ("@asset(name='2x')\ndef f():\n    return 1\n", "'2x' is not a valid asset name"),
        (f"@asset(name='{'a' * 129}')\ndef f():\n    return 1\n", "at most 128 characters"),
    ],
    ids=[
        "var-args",
        "var-kwargs",
        "positional-only",
        "private-name",
        "unknown-option",
        "bad-option-type",
        "bad-name",
        "name-too-long",
    ],
)
def test_asset_declaration_errors_name_the_file_and_line(make_project, body, words):
    root = make_project("basic")
    (root / "assets" / "bad.py").write_text("from assetflow import asset\n\n" + body)
    with pytest.raises(DefinitionError, match=words) as info:
        assetflow.load(root)
    assert str(info.value).startswith("assets/bad.py:")


@assetflow.asset(tags=["x"])
def plus_one(n):
    """Adds one."""
    return n + 1


def test_asset_function_stays_callable():
    assert plus_one(1) == 2
    assert plus_one.name == "plus_one"
    assert plus_one.options.description == "Adds one."
    assert plus_one.options.tags == {"x"}


def test_source_options_are_validated():
    with pytest.raises(DefinitionError, match="'colour' is not an option of DuckDB's read_csv"):
        assetflow.source("data/x.csv", colour="red")
    with pytest.raises(DefinitionError, match="non-empty string"):
        assetflow.source("")


def test_observed_source_decorator(make_project):
    root = make_project("basic")
    (root / "assets" / "api.py").write_text(
        "from assetflow import asset, source\n\n\n@source\ndef api_orders():\n"
        "    return 'v1'\n\n\n@asset\ndef synced(api_orders):\n    return 1\n"
    )
    graph = assetflow.load(root).graph
    assert graph["api_orders"].kind == "source"
    assert graph["api_orders"].source.observe() == "v1"
    assert graph["synced"].upstream == ("api_orders",)


def test_options_for_later_features_are_stored(make_project):
    root = make_project("basic")
    (root / "assets" / "opts.py").write_text(
        "from assetflow import asset\n\n\n"
        "@asset(freshness={'warn': '1h', 'error': '6h'}, checks=['row_count(> 0)'], retries=3,\n"
        "       retry_delay=0.5, backoff=3, retry_on=(TimeoutError,), timeout=60, version='v2',\n"
        "       io='parquet', deps=['base'], description='Options.')\n"
        "def opts():\n    return 1\n"
    )
    a = assetflow.load(root).graph["opts"]
    o = a.options
    assert (o.retries, o.retry_delay, o.backoff, o.timeout) == (3, 0.5, 3, 60)
    assert o.freshness == {"warn": "1h", "error": "6h"}
    assert o.retry_on == (TimeoutError,) and o.version == "v2" and o.io == "parquet"
    assert a.upstream == ("base",) and a.inputs == ()


def test_public_api_all_is_complete_and_sorted():
    assert assetflow.__all__ == sorted(assetflow.__all__)
    for name in assetflow.__all__:
        assert getattr(assetflow, name) is not None
    public = {
        n
        for n in dir(assetflow)
        if not n.startswith("_") and not isinstance(getattr(assetflow, n), types.ModuleType)
    }
    assert public - set(assetflow.__all__) <= {"annotations", "TYPE_CHECKING", "Any"}


def test_import_assetflow_is_light(tmp_path):
    import subprocess

    code = (
        "import sys, assetflow, assetflow.cli\n"
        "heavy = ('duckdb', 'pyarrow', 'sqlglot', 'rich', 'pandas')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_loading_a_project_does_not_need_duckdb_or_pyarrow(make_project):
    import subprocess

    root = make_project("basic")
    (root / "assets" / "staging" / "doubled.sql").unlink()
    (root / "assets" / "marts" / "finance" / "report.py").unlink()
    code = (
        "import sys, assetflow\nassetflow.load(sys.argv[1])\n"
        "assert 'duckdb' not in sys.modules and 'sqlglot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, cwd=Path(root))
