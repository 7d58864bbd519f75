"""CLI commands: up, down, status, build, audit.

Exit codes: 0 success; 1 the services or build failed (message says which part and why); 2 bad input
(configuration), always one line on stderr without a traceback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from baseline.config import Config, ConfigError, add_common_options, load_config
from baseline.store import StoreError, label_lock, now_iso, write_json_atomic

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

# The refactor plan's placeholder benches: (name, phase, what it should measure, keywords that find it).
PLAN_PLACEHOLDERS = (
    (
        "orchestration_coordination_latency",
        "orchestration",
        "step discovery, queue publishing, notification overhead",
        ("coordination",),
    ),
    ("worker_processing_cycle", "worker", "claim, execute, submit", ("worker_processing", "processing_cycle")),
    ("framework_overhead_vs_noop", "framework", "framework overhead vs a no-op handler", ("overhead", "noop", "no-op")),
)


def _console() -> Console:
    return Console(stderr=False, highlight=False)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """ConfigError -> exit 2, a failed service/build/store step -> exit 1; one line each, no traceback."""

    def run(args: argparse.Namespace) -> int:
        from baseline.services.processes import ProcessFailed
        from baseline.services.stack import StackError
        from baseline.targets.base import TargetError

        try:
            return func(args)
        except ConfigError as exc:
            print(f"baseline {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (StackError, ProcessFailed, TargetError, StoreError, BuildError) as exc:
            print(f"baseline {args.command}: failed: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


# ---------------------------------------------------------------------------------------------- up / down / status


def _stack_table(title: str, stack: Any, alive: dict[str, bool] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("role")
    table.add_column("pid", justify="right")
    if alive is not None:
        table.add_column("alive")
    for role, pid in stack.pids.items():
        row = [role, str(pid)]
        if alive is not None:
            row.append("yes" if alive.get(role) else "NO")
        table.add_row(*row)
    return table


def _print_stack(title: str, stack: Any, alive: dict[str, bool] | None = None) -> None:
    from baseline.services.stack import describe

    data = describe(stack)
    _console().print(_stack_table(title, stack, alive))
    print(f"services: {data['services']}\ndatabase: {data['dsn']}\napi:      {data['api_url']}")


def cmd_up(args: argparse.Namespace) -> int:
    from baseline.services.stack import up

    config = load_config(args)
    started = time.perf_counter()
    stack = up(config)
    _print_stack(f"stack up in {time.perf_counter() - started:.1f} s", stack)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from baseline.services.stack import down

    config = load_config(args)
    print("stopped" if down(config) else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """0 when a recorded stack is healthy, 1 when none is recorded or part of it is down."""
    from baseline.services.stack import read_state, stack_health

    config = load_config(args)
    stack = read_state(config)
    if stack is None:
        print("no stack is up (no state file); start one with `nox -s up`")
        return EXIT_FAILED
    health = stack_health(stack)
    _print_stack("stack " + ("healthy" if health["healthy"] else "UNHEALTHY"), stack, health["roles"])
    print(f"health:   api {'ok' if health['api'] else 'DOWN'}, database {'ok' if health['database'] else 'DOWN'}")
    return 0 if health["healthy"] else EXIT_FAILED


# ---------------------------------------------------------------------------------------------- build


class BuildError(RuntimeError):
    """A step of the clean build failed; the message names the step and shows its output tail."""


def _step(name: str, command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BuildError(f"{name} failed ({' '.join(command[:4])} ...):\n{tail}")
    return time.perf_counter() - started


def _installer() -> str | None:
    """The uv binary shipped by the `uv` wheel, when installed."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def clean_build(config: Config, *, keep: bool = False, system_site_packages: bool = False) -> dict[str, Any]:
    """Fresh venv, wheel of the project, wheel installed into it; returns the build.json record.

    `system_site_packages` lets the venv see this interpreter's packages so pip installs only the wheel
    (fast, for tests and offline machines); the record says the build was not isolated."""
    root = Path(tempfile.mkdtemp(prefix="baseline-build-"))
    venv, wheels = root / "venv", root / "wheels"
    python = venv / "bin" / "python"
    started = time.perf_counter()
    try:
        installer = _installer()
        if installer:  # uv: the same clean venv, wheel and install, in seconds instead of half a minute of pip
            venv_command = [installer, "venv", "-q", "--python", sys.executable, str(venv)]
            if system_site_packages:
                venv_command.append("--system-site-packages")
            install = [installer, "pip", "install", "-q", "--python", str(python)]
        else:  # pip: no pip inside the venv (ensurepip costs seconds); this interpreter's pip installs into it
            venv_command = [sys.executable, "-m", "venv", "--without-pip", str(venv)]
            if system_site_packages:
                venv_command.insert(3, "--system-site-packages")
            install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        steps = {"venv_s": _step("creating the venv", venv_command)}
        build = (
            [installer, "build", "--wheel", "-q", "--out-dir", str(wheels), str(config.project_root)]
            if installer
            else [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(config.project_root)]
        )
        steps["wheel_s"] = _step("building the wheel", build)
        built = sorted(wheels.glob("*.whl"))
        if not built:
            raise BuildError(f"building the wheel produced no .whl in {wheels}")
        wheel = built[0]
        steps["install_s"] = _step("installing the wheel", [*install, str(wheel)])
        total = time.perf_counter() - started
        listing = subprocess.run(
            [
                str(python),
                "-c",
                "import importlib.metadata as m, json; "
                "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        version = subprocess.run(
            [str(python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        )
        return {
            "label": config.label,
            "built_at": now_iso(),
            "build_seconds": round(total, 3),
            "steps": {k: round(v, 3) for k, v in steps.items()},
            "wheel": {"name": wheel.name, "sha256": sha256_file(wheel), "size_bytes": wheel.stat().st_size},
            "python": version.stdout.strip(),
            "packages": dict(sorted(json.loads(listing.stdout).items(), key=lambda kv: kv[0].lower())),
            "host_python": platform.python_version(),
            "isolated": not system_site_packages,
            "installer": "uv" if installer else "pip",
            "venv": str(venv) if keep else None,
        }
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def cmd_build(args: argparse.Namespace) -> int:
    config = load_config(args)
    with label_lock(config):
        record = clean_build(config, keep=args.keep_venv, system_site_packages=args.system_site_packages)
        path = write_json_atomic(config.label_dir / "build.json", record)
    print(f"built {record['wheel']['name']} in {record['build_seconds']:.1f} s -> {path}")
    return 0


# ---------------------------------------------------------------------------------------------- audit


def _field(entry: Any, name: str, default: Any = None) -> Any:
    return entry.get(name, default) if isinstance(entry, dict) else getattr(entry, name, default)


def _normal(text: str) -> str:
    return text.lower().replace("-", "_").replace(" ", "_")


def recorded_sample_counts(label_dir: Path) -> dict[str, int]:
    """Case id -> samples recorded in the label's newest run, to spot registered benches that yield nothing."""
    from baseline.store import read_result, run_dirs

    runs = run_dirs(label_dir)
    counts: dict[str, int] = {}
    if not runs:
        return counts
    for path in sorted(runs[-1].glob("*.json")):
        try:
            result = read_result(path)
        except StoreError:
            continue
        for case in result["cases"]:
            counts[case["id"]] = len(case["samples"])
    return counts


def expand_braces(pattern: str) -> list[str]:
    """`a/{1,10}` -> a/1, a/10 and `s={1..3}` -> s=1, s=2, s=3 (the registry's case notation)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    body = match.group(1)
    span = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", body)
    options = [str(i) for i in range(int(span.group(1)), int(span.group(2)) + 1)] if span else body.split(",")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [expanded for option in options for expanded in expand_braces(head + option + tail)]


def _case_patterns(entry: Any) -> list[str]:
    cases = _field(entry, "cases", []) or []
    return [str(c) for c in cases] if not isinstance(cases, str) else [cases]


def inventory(benches: list[Any], recorded: dict[str, int]) -> list[dict[str, Any]]:
    """Rows for every registered bench plus the plan's placeholders that nobody registered (pure)."""
    import fnmatch

    rows: list[dict[str, Any]] = []
    for entry in benches:
        patterns = _case_patterns(entry)
        implemented = bool(_field(entry, "implemented", False))
        status = "implemented" if implemented else "placeholder"
        samples: int | None = None
        phase_recorded = any(cid.startswith(str(_field(entry, "phase", "")) + "/") for cid in recorded)
        if implemented and phase_recorded:
            expected = [case for p in patterns for case in expand_braces(p)]
            found = {cid: n for cid, n in recorded.items() if any(fnmatch.fnmatchcase(cid, p) for p in expected)}
            samples = sum(found.values())
            if samples == 0:
                status = "placeholder (registered, no samples recorded)"
            else:
                missing = [p for p in expected if not any(fnmatch.fnmatchcase(cid, p) for cid in found)]
                if missing:
                    status = f"implemented ({len(missing)} registered case(s) without samples)"
        rows.append(
            {
                "name": str(_field(entry, "name", "?")),
                "phase": str(_field(entry, "phase", "?")),
                "cases": patterns,
                "command": str(_field(entry, "command", "") or _field(entry, "session", "") or ""),
                "status": status,
                "samples": samples,
            }
        )
    names = " ".join(_normal(row["name"]) for row in rows)
    for name, phase, what, keywords in PLAN_PLACEHOLDERS:
        if not any(keyword.replace("-", "_") in names for keyword in keywords):
            rows.append(
                {
                    "name": name,
                    "phase": phase,
                    "cases": [what],
                    "command": "",
                    "status": "placeholder (in the plan, not registered)",
                    "samples": None,
                }
            )
    return rows


def inventory_markdown(rows: list[dict[str, Any]], label: str | None) -> str:
    lines = [
        "# Benchmark inventory",
        "",
        f"Generated {now_iso()} by `baseline audit`"
        + (f"; sample counts from label `{label}`'s newest run." if label else "."),
        "",
        "| bench | phase | cases | status | samples | run command |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cases = "<br>".join(f"`{c}`" for c in row["cases"]) or "-"
        samples = "-" if row["samples"] is None else str(row["samples"])
        command = f"`{row['command']}`" if row["command"] else "-"
        lines.append(f"| {row['name']} | {row['phase']} | {cases} | {row['status']} | {samples} | {command} |")
    implemented = sum(1 for r in rows if r["status"] == "implemented")
    lines += ["", f"{implemented} of {len(rows)} benches implemented; the rest are placeholders.", ""]
    return "\n".join(lines)


def cmd_audit(args: argparse.Namespace) -> int:
    config = load_config(args)
    try:
        from baseline.benches.registry import BENCHES
    except ImportError as exc:
        print(f"baseline audit: failed: the bench registry is not importable ({exc})", file=sys.stderr)
        return EXIT_FAILED
    recorded = recorded_sample_counts(config.label_dir)
    rows = inventory(list(BENCHES), recorded)
    path = config.output_dir / "inventory.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(inventory_markdown(rows, config.label if recorded else None))
    tmp.replace(path)
    table = Table(title="benchmark inventory")
    for column in ("bench", "phase", "cases", "status", "run command"):
        table.add_column(column)
    for row in rows:
        style = "green" if row["status"] == "implemented" else "yellow"
        table.add_row(
            row["name"], row["phase"], "\n".join(row["cases"]), f"[{style}]{row['status']}[/]", row["command"]
        )
    _console().print(table)
    print(f"written to {path}")
    return 0


# ---------------------------------------------------------------------------------------------- registration


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add up, down, status, build and audit."""
    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("up", "start the services (fresh run database) and leave them running", cmd_up),
        ("down", "stop everything the state file lists", cmd_down),
        ("status", "show the recorded stack and whether each part is alive (exit 1 if not healthy)", cmd_status),
        ("build", "clean build in a fresh venv -> profiles/<label>/build.json", cmd_build),
        ("audit", "inventory of every registered bench -> profiles/inventory.md", cmd_audit),
    ]
    for name, help_text, func in commands:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_common_options(parser)
        if name == "build":
            parser.add_argument("--keep-venv", action="store_true", help="keep the fresh venv (path in build.json)")
            parser.add_argument(
                "--system-site-packages",
                action="store_true",
                help="let the venv reuse this interpreter's packages (fast, not isolated; recorded)",
            )
        parser.set_defaults(func=_guarded(func))
