"""A throwaway PostgreSQL server for the index tests: ``initdb`` a cluster in a temporary
directory, start it on a free loopback port (no Unix socket outside the directory), and stop it
afterwards. PostgreSQL refuses to run as root, so under root (CI) the cluster is made and run as
the ``postgres`` user through ``runuser``. ``make postgresql`` installs Debian's package first;
when the server is missing this stops with the package's name (never a skip)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.helpers.process import free_port

START_TIMEOUT_S = 60.0
SERVER_USER = "postgres"


def server_bin() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: Debian keeps them out of PATH."""
    found = shutil.which("pg_ctl")
    if found is not None:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if versions:
        return Path(versions[-1]).parent
    raise RuntimeError(
        "the index tests need a PostgreSQL server (initdb, pg_ctl): install the Debian package "
        "postgresql (sudo apt-get install postgresql), or run make test as root to have it "
        "installed"
    )


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


@contextmanager
def postgres_server(*, fsync: bool = False) -> Iterator[str]:
    """A running server whose database ``jinqiao`` is empty; yields its URL. Its directory is
    a fresh one under the system's temporary directory (pytest's are private to root, and the
    server's user must reach its own). Tests run it without ``fsync`` (a throwaway cluster);
    the benchmark with it, as production would."""
    with tempfile.TemporaryDirectory(prefix="jinqiao-postgres-") as name:
        directory = Path(name)
        if os.geteuid() == 0:
            shutil.chown(directory, SERVER_USER)
        with _running(server_bin(), directory, fsync) as url:
            yield url


@contextmanager
def _running(binaries: Path, directory: Path, fsync: bool) -> Iterator[str]:
    data = directory / "data"
    port = free_port()
    subprocess.run(
        _as_server_user(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                SERVER_USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    if not fsync:
        options += " -c fsync=off"
    log = directory / "server.log"
    subprocess.run(
        _as_server_user(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    try:
        admin = f"postgresql://{SERVER_USER}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as connection:
                    connection.execute("CREATE DATABASE jinqiao")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"postgresql://{SERVER_USER}@127.0.0.1:{port}/jinqiao"
    finally:
        subprocess.run(
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            check=False,
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )
