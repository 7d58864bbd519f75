"""One error model: the CLI maps a harness error's kind to its exit code, and lets a bug keep its traceback."""

from __future__ import annotations

import argparse

import pytest

from baseline.cli import run
from baseline.errors import BadInput, Failure


def _args(error: BaseException) -> argparse.Namespace:
    def func(_: argparse.Namespace) -> int:
        raise error

    return argparse.Namespace(command="sql-bench", func=func)


def test_bad_input_exits_2_with_one_line_naming_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(BadInput("--runs 0: give at least 1"))) == 2
    assert capsys.readouterr().err == "baseline sql-bench: error: --runs 0: give at least 1\n"


def test_a_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(Failure("worker-1 exited with code 1"))) == 1
    assert capsys.readouterr().err == "baseline sql-bench: failed: worker-1 exited with code 1\n"


def test_an_unexpected_exception_is_a_bug_and_keeps_its_traceback() -> None:
    with pytest.raises(ValueError, match="a bug"):
        run(_args(ValueError("a bug")))


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(KeyboardInterrupt())) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_command_returns_its_own_code() -> None:
    assert run(argparse.Namespace(command="compare", func=lambda _: 1)) == 1
