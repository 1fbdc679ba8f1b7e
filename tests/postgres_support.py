"""A throwaway PostgreSQL server for the gradebook tests and the scale script.

Debian's `postgresql` package brings the server binaries under
/usr/lib/postgresql/<version>/bin. The server refuses to run as root, so as
root the cluster is created and run by the `postgres` account (or `nobody`)
in a temporary folder that account owns. It listens on 127.0.0.1 only, on a
free port, with `trust` authentication, and is stopped and removed afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

INSTALL_HINT = "PostgreSQL's server is not installed (Debian: apt-get install -y postgresql)"
SUPERUSER = "tito"


def find_server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's newest version, else the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_account() -> str | None:
    """None when not root; else an account that PostgreSQL agrees to run as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL")


def _run(command: list[str], account: str | None) -> None:
    if account is not None:
        command = ["runuser", "-u", account, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[str]:
    """Start a fresh cluster; yields the URL of its `postgres` database for the superuser `tito`."""
    account = _server_account()
    data = Path(tempfile.mkdtemp(prefix="tito-postgres-"))
    try:
        if account is not None:
            entry = pwd.getpwnam(account)
            os.chown(data, entry.pw_uid, entry.pw_gid)
        cluster = data / "cluster"
        _run([str(bin_dir / "initdb"), "-D", str(cluster), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
              "--no-sync"], account)
        port = _free_port()
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=60"
        _run([str(bin_dir / "pg_ctl"), "-D", str(cluster), "-o", options, "-l", str(data / "server.log"),
              "-w", "-t", "60", "start"], account)
        try:
            yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(cluster), "-m", "fast", "-w", "stop"], account)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def new_database(server_url: str, name: str) -> str:
    """Create database `name` on the server; returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
