"""Console script `tasker`: migrate, api, orchestrator, worker. Every command takes --dsn or TASKER_DATABASE_URL.

TASKER_TEST_HOOKS=1 in a worker's environment runs it in the engine's test mode (docs/engine.md, "Test hooks")."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
from collections.abc import Sequence

from tasker.db import DSN_ENV, allow_exact_numbers, in_test_mode, resolve_dsn
from tasker.liveness import HEARTBEAT_INTERVAL


def _exit_on_sigterm() -> None:
    """SIGTERM ends the process like Ctrl-C; open transactions roll back with the connection."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _positive(value: float, flag: str) -> None:
    if not math.isfinite(value) or value <= 0:
        raise SystemExit(f"{flag} must be a positive number of seconds, got {value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasker", description="Reference workflow engine.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING: off the hot path)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--dsn", help=f"PostgreSQL URL (default: ${DSN_ENV})")
        return p

    migrate = add("migrate", "create the schema (or keep it, at this version) and register the bundled templates")
    migrate.add_argument(
        "--rebuild",
        action="store_true",
        help="drop a schema of another version first, with every task in it (the engine never upgrades in place)",
    )
    migrate.add_argument(
        "--print-version", action="store_true", help="print the schema version (a hash of its SQL files) and exit"
    )
    api = add("api", "serve the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--pool-size", type=int, default=4, help="database connections")
    api.add_argument(
        "--max-body-bytes",
        type=int,
        default=1_048_576,
        help="largest POST /v1/tasks body accepted, in bytes (default 1 MiB; larger ones get 413)",
    )
    orch = add("orchestrator", "run the orchestrator")
    orch.add_argument("--poll-interval", type=float, default=1.0, help="safety-net poll in seconds")
    orch.add_argument("--durable-handoffs", action="store_true", help="synchronous commit for internal hand-offs too")
    orch.add_argument(
        "--heartbeat-interval",
        type=float,
        default=HEARTBEAT_INTERVAL,
        help=f"seconds between heartbeats for /health/ready (default {HEARTBEAT_INTERVAL:g})",
    )
    worker = add("worker", "run a worker")
    worker.add_argument("--concurrency", type=int, default=1, help="claim loops (one connection each)")
    worker.add_argument(
        "--namespace", action="append", dest="namespaces", help="namespace to serve (repeatable; default: all four)"
    )
    worker.add_argument(
        "--visibility-timeout",
        type=float,
        default=30.0,
        help="seconds a claimed step stays hidden; the worker extends it while the step runs",
    )
    worker.add_argument(
        "--heartbeat-interval",
        type=float,
        default=HEARTBEAT_INTERVAL,
        help=f"seconds between heartbeats for /health/ready (default {HEARTBEAT_INTERVAL:g}; at most a third of "
        "the visibility timeout is used)",
    )
    worker.add_argument("--durable-handoffs", action="store_true", help="synchronous commit for claims and results")
    return parser


def _migrate(args: argparse.Namespace) -> int:
    from tasker.migrate import SchemaMismatch, load_schema, migrate

    if args.print_version:
        print(load_schema().version)
        return 0
    try:
        done = migrate(resolve_dsn(args.dsn), rebuild=args.rebuild)
    except SchemaMismatch as exc:
        raise SystemExit(f"tasker migrate: {exc}") from None
    what = {"created": "created", "rebuilt": "created in place of the previous one", "up to date": "already in place"}
    print(f"schema {done.version[:12]} {what[done.action]}; templates registered")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    allow_exact_numbers()
    if args.command == "migrate":
        return _migrate(args)
    dsn = resolve_dsn(args.dsn)
    _exit_on_sigterm()
    try:
        if args.command == "api":
            import uvicorn

            from tasker.api import create_app

            if args.max_body_bytes < 1:
                raise SystemExit("--max-body-bytes must be at least 1")
            uvicorn.run(
                create_app(dsn, pool_size=args.pool_size, max_body_bytes=args.max_body_bytes),
                host=args.host,
                port=args.port,
                log_level=args.log_level.lower(),
                access_log=False,
            )
        elif args.command == "orchestrator":
            from tasker.orchestration.orchestrator import Orchestrator

            if args.poll_interval <= 0:
                raise SystemExit("--poll-interval must be a positive number of seconds")
            _positive(args.heartbeat_interval, "--heartbeat-interval")
            orchestrator = Orchestrator(dsn, poll_interval=args.poll_interval, durable=args.durable_handoffs)
            orchestrator.run(heartbeat_interval=args.heartbeat_interval)
        elif args.command == "worker":
            from tasker.worker import run_workers

            if args.concurrency < 1:
                raise SystemExit("--concurrency must be at least 1")
            _positive(args.visibility_timeout, "--visibility-timeout")
            _positive(args.heartbeat_interval, "--heartbeat-interval")
            run_workers(
                dsn,
                args.concurrency,
                args.namespaces,
                args.visibility_timeout,
                durable=args.durable_handoffs,
                test_hooks=in_test_mode(),
                heartbeat_interval=args.heartbeat_interval,
            )
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
