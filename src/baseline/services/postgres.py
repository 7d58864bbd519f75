"""A private PostgreSQL cluster: initdb into a work dir, loopback only, a free port.

Shared by the test suite and the harness so both measure against the same kind of server.
Authentication is scram-sha-256 for every connection, socket and loopback alike, with a secret generated at initdb
and kept only in the cluster's passfile (0600, libpq's format): its DSNs name that file (`passfile=`), so no
password is in a DSN, a command line, an environment, the console or a result. The socket is its owner's alone.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import psycopg.conninfo
from psycopg import sql

from baseline.errors import BadInput

SUPERUSER = "postgres"


#: initdb's options of the compose PostgreSQL image, whose server answers on its container network only; the
#: embedded cluster takes the same with password authentication (`embedded_initdb_options`).
INITDB_OPTIONS = ("-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
PASSFILE = "pgpass"


def embedded_initdb_options(pwfile: Path) -> list[str]:
    """INITDB_OPTIONS with scram-sha-256 for every connection and the superuser's secret read from `pwfile`."""
    options = list(INITDB_OPTIONS)
    options[options.index("trust")] = "scram-sha-256"
    return [*options, f"--pwfile={pwfile}"]


def server_settings(*, stat_statements: bool = True) -> dict[str, str]:
    """The server settings that move latency, shared by the embedded cluster and the compose PostgreSQL image so
    both stacks measure the same server; where each one listens is the caller's."""
    settings = {"max_connections": "200", "shared_buffers": "256MB", "logging_collector": "off"}
    if stat_statements:
        settings["shared_preload_libraries"] = "pg_stat_statements"
        # Top-level statements only (the default): the SQL bench reads top-level calls, and tracking every
        # statement nested in the engine's functions slows the E2E chain (docs/findings/harness.md).
        settings["pg_stat_statements.track"] = "top"
    return settings


class PostgresNotFound(BadInput):
    """No PostgreSQL server binaries could be located; the message says how to install them."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file()


def find_bindir() -> Path:
    """PATH, then `pg_config --bindir`, then /usr/lib/postgresql/*/bin (newest), then the pgserver wheel."""
    env_dir = os.environ.get("BASELINE_PG_BINDIR")
    candidates: list[Path] = [Path(env_dir)] if env_dir else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.CalledProcessError):
            pass
    versioned = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(Path(p) for p in versioned)
    try:
        import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for cand in candidates:
        if _has_server(cand):
            return cand
    raise PostgresNotFound(
        "no PostgreSQL server binaries found (looked on PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin "
        "and the pgserver wheel). Install them with `apt-get install postgresql` or `pip install pgserver`, "
        "or set BASELINE_PG_BINDIR to the directory holding initdb, pg_ctl and postgres."
    )


def _service_user() -> pwd.struct_passwd | None:
    """initdb refuses to run as root; drop to an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL")


class PostgresServer:
    """A running server reached through a superuser DSN: databases created and dropped by name."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn

    def dsn(self, dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(self.admin_dsn, dbname=dbname)

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE (optionally from a template); returns its DSN."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            conn.execute(stmt)
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class EmbeddedPostgres:
    """One private cluster. `start()` is idempotent over an existing data dir (initdb only once)."""

    workdir: Path
    port: int = 0
    bindir: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.bindir = Path(self.bindir) if self.bindir else find_bindir()
        if not self.port:
            self.port = free_port()

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def logfile(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def passfile(self) -> Path:
        return self.workdir / PASSFILE

    def dsn(self, dbname: str = "postgres") -> str:
        passfile = urllib.parse.quote(str(self.passfile), safe="/")
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}?passfile={passfile}"

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        user = _service_user()
        if user is None:
            return subprocess.run(args, capture_output=True, text=True, check=check, cwd=self.workdir)
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=check,
            cwd=self.workdir,
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
        )

    def _chown(self) -> None:
        user = _service_user()
        if user is None:
            return
        for parent in self.workdir.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise RuntimeError(
                    f"running as root, PostgreSQL runs as '{user.pw_name}', which cannot enter {parent} "
                    f"(mode {oct(os.stat(parent).st_mode & 0o777)}); put the work dir somewhere it can reach, "
                    "e.g. under /tmp or the project folder"
                )
        for root, dirs, files in os.walk(self.workdir):
            os.chown(root, user.pw_uid, user.pw_gid)
            for name in dirs + files:
                path = os.path.join(root, name)
                if path != str(self.passfile):  # the harness's: the server keeps only the secret's verifier
                    os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def _stat_statements_available(self) -> bool:
        assert self.bindir is not None
        roots = [self.bindir.parent / "lib", self.bindir.parent / "lib" / "postgresql"]
        return any((r / "pg_stat_statements.so").exists() for r in roots)

    def server_options(self) -> dict[str, str]:
        opts = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.workdir),
            "unix_socket_permissions": "0700",
            **server_settings(stat_statements=self._stat_statements_available()),
        }
        opts.update(self.settings)
        return opts

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def start(self) -> EmbeddedPostgres:
        assert self.bindir is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.workdir.parent != self.workdir:
            os.chmod(self.workdir, 0o755)
        self._chown()
        if self.initialized() and not self.passfile.exists():  # made before password authentication: made anew
            self.stop()
            shutil.rmtree(self.datadir)
        if not self.initialized():
            self._initdb()
        if self.running():
            return self
        opts = " ".join(f"-c {k}={v}" for k, v in self.server_options().items())
        result = self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                "-o",
                opts,
                "start",
            ],
            check=False,
        )
        if result.returncode != 0:
            tail = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(f"PostgreSQL failed to start on port {self.port}: {result.stderr.strip()}\n{tail}")
        return self

    def _initdb(self) -> None:
        """initdb with a fresh secret: handed to initdb in a file the server account reads and then removed, kept
        in the passfile (0600) for the harness's clients."""
        assert self.bindir is not None
        secret = secrets.token_urlsafe(32)
        pwfile = self.workdir / ".initdb-secret"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        user = _service_user()
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), *embedded_initdb_options(pwfile)])
        finally:
            pwfile.unlink(missing_ok=True)
        staged = self.passfile.with_name(PASSFILE + ".tmp")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"*:*:*:{SUPERUSER}:{secret}\n")
        os.replace(staged, self.passfile)

    def running(self) -> bool:
        assert self.bindir is not None
        if not self.initialized():
            return False
        return self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"], check=False).returncode == 0

    def pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        if not pidfile.exists():
            return None
        return int(pidfile.read_text().splitlines()[0])

    def stop(self) -> None:
        assert self.bindir is not None
        if self.running():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"], check=False)

    def version(self) -> str:
        return (self.datadir / "PG_VERSION").read_text().strip()

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE (optionally from a template); returns its DSN."""
        PostgresServer(self.dsn()).create_database(name, template)
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        PostgresServer(self.dsn()).drop_database(name)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
