"""External services: an existing deployment given by DSN and API URL; checked, never started or stopped."""

from __future__ import annotations

import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict

from baseline.config import Config, ConfigError
from baseline.redaction import redact_dsn
from baseline.services.model import Stack, StackError
from baseline.targets.contract import Target


class ExternalRunning:
    """Nothing of an external deployment runs here: stopping or detaching it does nothing."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def check_alive(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def detach(self) -> None:
        return None


class ExternalProvider:
    kind = "external"

    def start(self, config: Config, target: Target, *, port: int | None = None) -> ExternalRunning:
        """A Stack for the configured deployment after checking that its database and API answer."""
        if not config.dsn or not config.api_url:
            raise ConfigError("services: 'external' needs dsn (--dsn or BASELINE_DSN) and api_url (--api-url)")
        try:
            with psycopg.connect(config.dsn, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StackError(f"external database {redact_dsn(config.dsn)} is not reachable: {reason}") from None
        try:
            response = requests.get(f"{config.api_url}/health", timeout=5)
        except requests.RequestException as exc:
            raise StackError(f"external API {config.api_url}/health is not reachable: {type(exc).__name__}") from None
        if not response.ok:
            raise StackError(f"external API {config.api_url}/health answered {response.status_code}, expected 200")
        database = conninfo_to_dict(config.dsn).get("dbname") or ""
        stack = Stack(
            services=self.kind,
            target=config.target,
            dsn=config.dsn,
            admin_dsn=config.dsn,
            api_url=config.api_url,
            database=str(database),
            label=config.label,
            run=config.run,
        )
        return ExternalRunning(stack)

    def stop_recorded(self, config: Config, stack: Stack | None) -> bool:
        return False
