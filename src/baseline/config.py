"""Harness configuration: one frozen `Config` built from layered sources so every command sees the same knobs.

Precedence, later wins: built-in defaults < `[tool.baseline]` in pyproject.toml (found from CWD upward) <
`BASELINE_*` environment variables < command-line options. Every value is checked here, once, so a typo fails
fast with a message naming the key and what it accepts instead of surfacing mid-benchmark.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from baseline.errors import BadInput
from baseline.phases import BENCH_NAMES
from baseline.redaction import redact_dsn

SERVICES = ("embedded", "external", "compose")
PLACEMENTS = ("split", "harness", "together", "none")  # baseline.placement.POLICIES
PHASES = BENCH_NAMES

_FULL_SAMPLES = {"sql": 500, "event": 1000, "task_init": 300, "e2e": 100}
_QUICK_SAMPLES = {"sql": 50, "event": 100, "task_init": 50, "e2e": 10}
# Values that depend on --quick; a `[tool.baseline.quick]` table may override them for quick mode.
_FULL = {"dataset_scale": 5000, "warmup": 20, "time_budget_s": 30.0, "ab_blocks": 10}
_QUICK = {"dataset_scale": 500, "warmup": 5, "time_budget_s": 5.0, "ab_blocks": 6}
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A target is an installed plugin's name (entry point group baseline.targets) or "package.module:Factory".
_TARGET_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_-]*|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$")


class ConfigError(BadInput):
    """A configuration value is wrong; the message names the key, the bad value and what is accepted."""


@dataclass(frozen=True)
class Config:
    """Everything a harness command needs to know; built by `load_config`, never mutated."""

    project_root: Path
    output_dir: Path
    workdir: Path
    target: str = "tasker"
    services: str = "embedded"
    label: str = "adhoc"
    run: int = 1
    runs: int = 3
    quick: bool = False
    dsn: str | None = None
    api_url: str | None = None
    dataset_scale: int = _FULL["dataset_scale"]  # type: ignore[assignment]
    dataset_seed: int = 42
    warmup: int = _FULL["warmup"]  # type: ignore[assignment]
    samples: dict[str, int] = field(default_factory=lambda: dict(_FULL_SAMPLES))
    time_budget_s: float = _FULL["time_budget_s"]
    workers: int = 2
    worker_concurrency: int = 1
    profile: bool = False
    placement: str = "split"
    revision_dir: str | None = None  # an A/B side: the folder its revision of the target was built into
    ab_blocks: int = _FULL["ab_blocks"]  # type: ignore[assignment]
    ab_sample_factor: float = 1.5  # an A/B side takes this many times the samples of a `runs`-run baseline
    ab_blocks_per_stack: int = 1  # an A/B starts both stacks afresh after this many blocks of every phase
    profiled_rounds: int | None = None  # the E2E profiled pass's rounds (None: the bench's own count)
    profile_rate: int = 100
    criteria: dict[str, Any] = field(default_factory=dict)
    stability_cv: float = 0.10
    net_delay_ms: float = 0.0  # compose only: every container delays its outgoing packets this long (tc netem)

    @property
    def label_dir(self) -> Path:
        return self.output_dir / self.label

    @property
    def run_dir(self) -> Path:
        return self.label_dir / f"run-{self.run}"

    def with_run(self, run: int) -> Config:
        """The same configuration for another run number (pipelines iterate runs)."""
        return replace(self, run=_to_int("run", run, minimum=1))

    def public(self) -> dict[str, Any]:
        """JSON-safe view for fingerprints: paths as strings, DSN without password."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        out["dsn"] = redact_dsn(self.dsn)
        return out


# ---------------------------------------------------------------------------------------------- value parsers


def _to_int(key: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int | float) else int(value)
    except ValueError:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    return number


def _to_float(key: str, value: Any, *, positive: bool = True) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or (positive and number <= 0):
        raise ConfigError(f"{key}: expected a finite {'positive ' if positive else ''}number, got {value!r}")
    return number


def _to_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{key}: expected true/false (1/0, yes/no, on/off), got {value!r}")


def _to_delay(key: str, value: Any) -> float:
    number = _to_float(key, value, positive=False)
    if number < 0 or number > 1000:
        raise ConfigError(f"{key}: expected a delay in milliseconds from 0 to 1000, got {value!r}")
    return number


def _to_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip()
    if text not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
    return text


def check_label(key: str, value: Any) -> str:
    """A label is a folder name under the output dir: letters, digits, '.', '_', '-'; ConfigError otherwise."""
    text = str(value).strip()
    if ".." in text or not _LABEL_RE.match(text):
        raise ConfigError(
            f"{key}: expected a folder-safe name (letters, digits, '.', '_', '-'; no '/', spaces or '..'; "
            f"at most 64 chars), got {value!r}"
        )
    return text


def _to_target(key: str, value: Any) -> str:
    text = str(value).strip()
    if not _TARGET_RE.match(text):
        raise ConfigError(
            f"{key}: expected an installed target's name (e.g. tasker) or package.module:Factory, got {value!r}"
        )
    return text


def _to_str(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    text = str(value).strip()
    return text or None


def _to_url(key: str, value: Any) -> str | None:
    text = _to_str(key, value)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{key}: expected an http(s) URL such as http://127.0.0.1:8000, got {value!r}")
    return text.rstrip("/")


def _to_dsn(key: str, value: Any) -> str | None:
    text = _to_str(key, value)
    if text is None:
        return None
    if not (text.startswith(("postgresql://", "postgres://")) or "=" in text):
        raise ConfigError(f"{key}: expected a libpq DSN (postgresql://user@host:port/db or 'host=... dbname=...')")
    return text


def _to_samples(key: str, value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table of phase = count with phases {', '.join(PHASES)}")
    out: dict[str, int] = {}
    for phase, count in value.items():
        if phase not in PHASES:
            raise ConfigError(f"{key}.{phase}: unknown phase; expected one of {', '.join(PHASES)}")
        out[phase] = _to_int(f"{key}.{phase}", count, minimum=1)
    return out


def _to_table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table, got {value!r}")
    return dict(value)


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "target": lambda k, v: _to_target(k, v),
    "services": lambda k, v: _to_choice(k, v, SERVICES),
    "placement": lambda k, v: _to_choice(k, v, PLACEMENTS),
    "revision_dir": _to_str,
    "ab_blocks": lambda k, v: _to_int(k, v, minimum=3),
    "ab_sample_factor": _to_float,
    "ab_blocks_per_stack": lambda k, v: _to_int(k, v, minimum=1),
    "profiled_rounds": lambda k, v: _to_int(k, v, minimum=1),
    "label": check_label,
    "run": lambda k, v: _to_int(k, v, minimum=1),
    "runs": lambda k, v: _to_int(k, v, minimum=1),
    "quick": _to_bool,
    "dsn": _to_dsn,
    "api_url": _to_url,
    "output_dir": _to_str,
    "workdir": _to_str,
    "dataset_scale": lambda k, v: _to_int(k, v, minimum=1),
    "dataset_seed": lambda k, v: _to_int(k, v, minimum=0),
    "warmup": lambda k, v: _to_int(k, v, minimum=0),
    "samples": _to_samples,
    "time_budget_s": _to_float,
    "workers": lambda k, v: _to_int(k, v, minimum=1),
    "worker_concurrency": lambda k, v: _to_int(k, v, minimum=1),
    "profile": _to_bool,
    "profile_rate": lambda k, v: _to_int(k, v, minimum=1),
    "criteria": _to_table,
    "stability_cv": _to_float,
    "net_delay_ms": _to_delay,
}
_QUICK_KEYS = ("dataset_scale", "warmup", "time_budget_s", "samples", "ab_blocks")
# Environment variable -> key. BASELINE_SAMPLES_<PHASE> sets one phase's sample count.
ENV_VARS: dict[str, str] = {f"BASELINE_{key.upper()}": key for key in _PARSERS if key not in {"samples", "criteria"}}
ENV_VARS.update({"BASELINE_SCALE": "dataset_scale", "BASELINE_SEED": "dataset_seed"})


# ---------------------------------------------------------------------------------------------- sources


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml from `start` upward that has a [tool.baseline] table (else the nearest one)."""
    nearest: Path | None = None
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            nearest = nearest or candidate
            try:
                if "baseline" in tomllib.loads(candidate.read_text()).get("tool", {}):
                    return candidate
            except tomllib.TOMLDecodeError:
                continue
    return nearest


def read_pyproject_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    table = data.get("tool", {}).get("baseline", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.baseline] must be a table")
    return table


def _check_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "quick" and isinstance(value, Mapping) and where == "[tool.baseline]":
            continue
        if key not in _PARSERS:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {', '.join(sorted(_PARSERS))}")
        out[key] = _PARSERS[key](f"{where}.{key}" if where.startswith("[") else key, value)
    return out


def _quick_table(table: Mapping[str, Any]) -> dict[str, Any]:
    quick = table.get("quick")
    if not isinstance(quick, Mapping):
        return {}
    for key in quick:
        if key not in _QUICK_KEYS:
            raise ConfigError(f"[tool.baseline.quick]: unknown key {key!r}; known keys: {', '.join(_QUICK_KEYS)}")
    return {k: _PARSERS[k](f"[tool.baseline.quick].{k}", v) for k, v in quick.items()}


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var, key in ENV_VARS.items():
        if var in environ and environ[var].strip() != "":
            out[key] = _PARSERS[key](var, environ[var])
    samples = {}
    for phase in PHASES:
        var = f"BASELINE_SAMPLES_{phase.upper()}"
        if environ.get(var, "").strip():
            samples[phase] = _to_int(var, environ[var], minimum=1)
    if samples:
        out["samples"] = samples
    return out


# Option dest -> config key. Options are parsed as strings so every bad value gets the same ConfigError.
_CLI_KEYS = {
    "label": "label",
    "run": "run",
    "runs": "runs",
    "quick": "quick",
    "services": "services",
    "dsn": "dsn",
    "api_url": "api_url",
    "profile": "profile",
    "scale": "dataset_scale",
    "seed": "dataset_seed",
    "target": "target",
    "placement": "placement",
    "ab_blocks": "ab_blocks",
    "ab_blocks_per_stack": "ab_blocks_per_stack",
    "net_delay_ms": "net_delay_ms",
}


def add_common_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every harness command accepts; unset options fall through to env, pyproject, defaults."""
    group = parser.add_argument_group("common options")
    group.add_argument("--label", metavar="L", default=None, help="baseline label (folder name; default adhoc)")
    group.add_argument("--run", metavar="N", default=None, help="run number within the label (default 1)")
    group.add_argument("--runs", metavar="N", default=None, help="number of runs in a baseline (default 3)")
    group.add_argument("--quick", action="store_true", default=None, help="small dataset and sample counts (CI)")
    group.add_argument("--services", metavar="KIND", default=None, help="embedded (default), external or compose")
    group.add_argument("--dsn", default=None, help="PostgreSQL DSN of the run database (external services)")
    group.add_argument("--api-url", dest="api_url", default=None, help="engine API base URL (external services)")
    group.add_argument("--profile", action="store_true", default=None, help="capture py-spy profiles")
    group.add_argument("--scale", metavar="N", default=None, help="dataset size in tasks (default 5000; quick 500)")
    group.add_argument("--seed", metavar="N", default=None, help="dataset RNG seed (default 42)")
    group.add_argument("--target", metavar="NAME", default=None, help="target adapter (default tasker)")
    group.add_argument(
        "--placement",
        metavar="POLICY",
        default=None,
        help="CPU placement: split (default: harness and its backends on one CPU, the system under test on the "
        "others), harness, together or none",
    )
    group.add_argument(
        "--net-delay-ms",
        dest="net_delay_ms",
        metavar="D",
        default=None,
        help="compose services: each container delays its outgoing packets D ms (tc netem), as if on its own host",
    )
    return parser


def environment_for(values: Mapping[str, Any]) -> dict[str, str]:
    """BASELINE_* variables that carry these config values to a child process (a pipeline's phase processes):
    the environment layer sits below the command line, so the child's own options still win."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if key not in _PARSERS or key in {"samples", "criteria"} or value is None:
            continue
        out[f"BASELINE_{key.upper()}"] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return out


def cli_values(args: argparse.Namespace | Mapping[str, Any] | None) -> dict[str, Any]:
    """The config values given on the command line (checked), keyed by config key."""
    return _cli_values(args)


def _cli_values(args: argparse.Namespace | Mapping[str, Any] | None) -> dict[str, Any]:
    if args is None:
        return {}
    raw = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    out: dict[str, Any] = {}
    for dest, key in _CLI_KEYS.items():
        value = raw.get(dest)
        if value is not None:
            flag = "--" + dest.replace("_", "-")
            out[key] = _PARSERS[key](flag, value)
    return out


def load_config(
    args: argparse.Namespace | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Merge defaults < [tool.baseline] < BASELINE_* < CLI options into a validated Config."""
    environ = os.environ if environ is None else environ
    start = (cwd or Path.cwd()).resolve()
    pyproject = find_pyproject(start)
    root = pyproject.parent if pyproject else start
    table = read_pyproject_table(pyproject) if pyproject else {}

    py_layer = _check_table(table, "[tool.baseline]")
    quick_layer = _quick_table(table)
    env_layer = _env_values(environ)
    cli_layer = _cli_values(args)
    quick = bool({**py_layer, **env_layer, **cli_layer}.get("quick", False))
    if quick:
        # Quick mode: the main table's full-size values give way to quick defaults and [tool.baseline.quick].
        py_layer = {k: v for k, v in py_layer.items() if k not in _QUICK_KEYS} | quick_layer
    merged: dict[str, Any] = dict(_QUICK if quick else _FULL)
    samples = dict(_QUICK_SAMPLES if quick else _FULL_SAMPLES)
    for layer in (py_layer, env_layer, cli_layer):
        for key, value in layer.items():
            if key == "samples":
                samples.update(value)
            else:
                merged[key] = value
    merged["samples"] = samples

    config = Config(
        project_root=root,
        output_dir=_inside(root, "output_dir", merged.pop("output_dir", "profiles")),
        workdir=_inside(root, "workdir", merged.pop("workdir", ".baseline")),
        **merged,
    )
    _check_consistency(config)
    return config


def _inside(root: Path, key: str, value: str) -> Path:
    """An absolute folder as given; a relative one under the project, never outside it."""
    path = Path(value)
    if path.is_absolute():
        return path
    resolved = (root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise ConfigError(
            f"{key}: {value!r} leads outside the project ({resolved}); give a path inside it, or an absolute path "
            "to write elsewhere on purpose"
        )
    return root / path


def _check_consistency(config: Config) -> None:
    if config.net_delay_ms > 0 and config.services != "compose":
        raise ConfigError(
            f"net_delay_ms: a network delay ({config.net_delay_ms:g} ms) needs --services compose (each service in its "
            f"own container), got services {config.services!r}"
        )
    if config.services == "external":
        missing = [name for name, value in (("dsn", config.dsn), ("api_url", config.api_url)) if not value]
        if missing:
            raise ConfigError(
                "services: 'external' needs "
                + " and ".join(f"{m} (--{m.replace('_', '-')} or BASELINE_{m.upper()})" for m in missing)
            )
