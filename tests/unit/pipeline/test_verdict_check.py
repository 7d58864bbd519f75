"""The verdict check's choices are checked before anything is built or measured."""

from __future__ import annotations

import pytest
from rich.console import Console

from baseline.config import load_config
from baseline.errors import BadInput
from baseline.pipeline.verdict_check import verdict_check


@pytest.mark.parametrize(
    ("kinds", "quick", "message"),
    [
        (("aa", "load"), True, "choose from aa, sql, e2e"),
        (("sql",), True, "sized from the A/A runs"),
        (("aa",), False, "quick A/B"),
    ],
)
def test_bad_choices_are_refused_up_front(kinds: tuple[str, ...], quick: bool, message: str) -> None:
    config = load_config({"quick": quick}, environ={})
    with pytest.raises(BadInput, match=message):
        verdict_check(config, repeats=1, cli_values={}, console=Console(), kinds=kinds)
