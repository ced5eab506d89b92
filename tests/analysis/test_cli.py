"""The command line: ``python -m analysis``, the ``wslocust-analysis`` entry point, help and exit codes."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.__main__ import COMMANDS, main

from .conftest import ROOT, CopyRun, Runs


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: wslocust-analysis COMMAND")
    for command in COMMANDS:
        assert f"\n  {command} " in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: wslocust-analysis {command} ")
    assert "PREFIX" in out
    assert "-o" in out


def test_no_command_or_an_unknown_one_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "a command is required" in capsys.readouterr().err
    assert main(["sumarize"]) == 2
    assert capsys.readouterr().err == (
        "wslocust-analysis: error: unknown command 'sumarize' (choose from summarize, plot, compare, report, repeat, voice)\n"
    )


def test_a_bad_option_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", "--min-level-seconds", "soon", "x"]) == 2
    assert "invalid float value: 'soon'" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_analysis_summarizes_a_real_run(runs: Runs, tmp_path: Path) -> None:
    result = _run("summarize", str(runs.chatbot), "-o", str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Run run  (")
    assert "Per name" in result.stdout
    assert (tmp_path / "s.json").exists()


@pytest.mark.slow
def test_a_missing_history_from_the_shell_is_one_line_without_traceback(
    runs: Runs, copy_run: CopyRun
) -> None:
    prefix = copy_run(runs.synthetic_plain, skip=("_stats_history.csv",))
    result = _run("report", str(prefix))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"wslocust-analysis report: error: {prefix}_stats_history.csv: no such file "
        "(Locust writes it when run with --csv PREFIX)"
    ]


def test_the_entry_point_is_the_dispatcher() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'wslocust-analysis = "analysis.__main__:main"' in pyproject


def test_analysis_never_imports_wslocust() -> None:
    code = "import sys, analysis.__main__, analysis.summarize, analysis.plot, analysis.compare, analysis.report, analysis.voice;"
    code += "print(any(m == 'wslocust' or m.startswith('wslocust.') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["plot", "report", "summarize"])
def test_the_level_commands_share_min_level_seconds(command: str) -> None:
    parser = importlib.import_module(f"analysis.{command}").build_parser()
    assert parser.parse_args(["x"]).min_level_seconds == 0.0
    assert parser.parse_args(["x", "--min-level-seconds", "2.5"]).min_level_seconds == 2.5


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_without_the_analysis_extra_is_one_line_and_exit_2(command: str) -> None:
    code = (
        "import sys\n"
        "class NoExtra:  # as if the analysis extra were not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('numpy', 'pandas', 'matplotlib'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoExtra())\n"
        "from analysis.__main__ import main\n"
        f"sys.exit(main([{command!r}, 'results/run']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"wslocust-analysis: error: {command} needs ")
    assert line.endswith(", which is not installed: pip install 'wslocust[analysis]'")
