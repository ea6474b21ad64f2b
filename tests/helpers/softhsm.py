"""A real SoftHSM2 token for the HSM tests, made in a temporary directory.

SoftHSM reads its configuration (``SOFTHSM2_CONF``: where tokens live) once, when a process first
initializes the library, and python-pkcs11 keeps one library per process: so a test process gets
one token directory, set in the environment before any test loads the module, and node processes
started by the tests inherit it. Tests tell their keys apart by label.

SoftHSM2 is installed by ``make test`` (Debian's package ``softhsm2``); where it is missing, the
tests fail with what to install — they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = os.environ.get("JINQIAO_TEST_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "jinqiao-test"
USER_PIN = "pin-of-the-test-token"
SECURITY_OFFICER_PIN = "so-pin-of-the-test-token"


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin_file: Path
    directory: Path

    def create_arguments(self, path: Path, label: str) -> list[str]:
        """``jinqiao keys create`` arguments generating key ``label`` in this token, its
        reference written to ``path``."""
        return [
            "keys",
            "create",
            str(path),
            "--pkcs11-module",
            self.module,
            "--pkcs11-token",
            self.label,
            "--pkcs11-label",
            label,
            "--pin-file",
            str(self.pin_file),
        ]


def make_token(directory: Path) -> SoftToken:
    """Initialize a token labelled ``TOKEN_LABEL`` in ``directory`` and point this process at it."""
    utility = shutil.which("softhsm2-util")
    if not Path(MODULE).is_file() or utility is None:
        pytest.fail(
            f"SoftHSM2 is missing ({MODULE}, softhsm2-util): install the Debian package softhsm2 "
            "(make test does it when run as root)",
            pytrace=False,
        )
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    configuration = directory / "softhsm2.conf"
    configuration.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(configuration)
    subprocess.run(
        [
            utility,
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--so-pin",
            SECURITY_OFFICER_PIN,
            "--pin",
            USER_PIN,
        ],
        check=True,
        capture_output=True,
    )
    pin_file = directory / "pin"
    pin_file.write_text(USER_PIN + "\n")
    pin_file.chmod(0o600)
    return SoftToken(MODULE, TOKEN_LABEL, pin_file, directory)
