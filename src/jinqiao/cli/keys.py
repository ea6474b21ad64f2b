"""``jinqiao keys``: create, import, identify and migrate key files (docs/keys.md).

Every key a command creates is encrypted unless ``--insecure-plaintext`` is given; an HSM key is
generated in the token and only its reference is written. Passphrases come from
``--passphrase-env``, ``--passphrase-fd``, ``--passphrase-file``, the environment or a prompt
(``jinqiao.keys.passphrase``), never from an argument; secrets are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from jinqiao.cli.common import JsonOption, SuiteOption, guarded, with_options
from jinqiao.core.crypto import DEFAULT_SUITE
from jinqiao.core.errors import InvalidInput
from jinqiao.keys import (
    Encrypted,
    InsecurePlaintext,
    KeyInfo,
    KeyProtection,
    PassphraseSource,
    read_key_info,
)
from jinqiao.keys.keystore import DEFAULT_SCRYPT, SCRYPT_BOUNDS, ScryptParameters
from jinqiao.terminal import console, emit_json

F = TypeVar("F", bound=Callable[..., Any])

keys_app = typer.Typer(help="Create, import, identify and migrate key files.", no_args_is_help=True)

_LOG2_N_LOW, _LOG2_N_HIGH = SCRYPT_BOUNDS["log2_n"]

InsecurePlaintextOption = Annotated[
    bool,
    typer.Option(
        "--insecure-plaintext",
        help="Write keys unencrypted (throwaway networks only: whoever copies a file has the key).",
    ),
]
PassphraseEnvOption = Annotated[
    str | None,
    typer.Option("--passphrase-env", metavar="NAME", help="Read the passphrase from $NAME."),
]
PassphraseFdOption = Annotated[
    int | None,
    typer.Option("--passphrase-fd", metavar="N", min=0, help="Read it from file descriptor N."),
]
PassphraseFileOption = Annotated[
    Path | None,
    typer.Option("--passphrase-file", metavar="PATH", help="Read it from a file's first line."),
]
ScryptCostOption = Annotated[
    int,
    typer.Option(
        "--scrypt-log2-n",
        min=_LOG2_N_LOW,
        max=_LOG2_N_HIGH,
        help="scrypt cost N = 2^this (memory 128·N·8 bytes).",
    ),
]


@dataclass(frozen=True)
class NewKeyOptions:
    """How a command protects the keys it writes: ``--insecure-plaintext``, or a new passphrase
    from ``--passphrase-env``/``--passphrase-fd``/``--passphrase-file`` (else the environment or a
    prompt) and the scrypt cost ``--scrypt-log2-n``."""

    insecure_plaintext: bool
    source: PassphraseSource
    scrypt_log2_n: int

    def protection(self, what: str) -> KeyProtection:
        """Plaintext only when asked for; otherwise a new passphrase (read now) for ``what``."""
        if self.insecure_plaintext:
            if self.source != PassphraseSource():
                raise InvalidInput("--insecure-plaintext takes no passphrase")
            return InsecurePlaintext()
        return self.encrypted(what)

    def encrypted(self, what: str) -> Encrypted:
        if self.insecure_plaintext:
            raise InvalidInput("this command always encrypts; --insecure-plaintext is refused")
        passphrase = self.source.read(what, new=True)
        return Encrypted(passphrase, ScryptParameters(log2_n=self.scrypt_log2_n))


_NEW_KEY_OPTIONS = (
    ("insecure_plaintext", InsecurePlaintextOption, False),
    ("passphrase_env", PassphraseEnvOption, None),
    ("passphrase_fd", PassphraseFdOption, None),
    ("passphrase_file", PassphraseFileOption, None),
    ("scrypt_log2_n", ScryptCostOption, DEFAULT_SCRYPT.log2_n),
)


def with_new_key_options(command: F) -> F:
    """Declare the options of ``NewKeyOptions`` once for every command that writes keys: the
    command takes a parameter ``new_key: NewKeyOptions`` instead."""
    return with_options(
        command,
        "new_key",
        _NEW_KEY_OPTIONS,
        lambda values: NewKeyOptions(
            values["insecure_plaintext"],
            PassphraseSource(
                env=values["passphrase_env"],
                fd=values["passphrase_fd"],
                file=values["passphrase_file"],
            ),
            values["scrypt_log2_n"],
        ),
    )


def _show(path: Path, info: KeyInfo, json_output: bool) -> None:
    if json_output:
        emit_json(
            {
                "file": str(path),
                "kind": info.kind,
                "suite": info.suite,
                "address": info.address,
                "public_key": info.public_key,
            }
        )
    else:
        console.print(
            f"file        {path}\nkind        {info.kind}\nsuite       {info.suite}\n"
            f"address     {info.address}\npublic key  {info.public_key}"
        )


@keys_app.command("create")
@guarded
@with_new_key_options
def keys_create(
    path: Annotated[Path, typer.Argument(help="Where to write the key file (mode 0600).")],
    new_key: NewKeyOptions,
    suite: SuiteOption = DEFAULT_SUITE,
    pkcs11_module: Annotated[
        str | None, typer.Option(help="Generate the key in an HSM: its PKCS#11 library path.")
    ] = None,
    pkcs11_token: Annotated[str | None, typer.Option(help="The HSM token's label.")] = None,
    pkcs11_label: Annotated[str | None, typer.Option(help="The new key's label.")] = None,
    pin_file: Annotated[
        Path | None, typer.Option(help="File holding the token's user PIN (else a prompt).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Generate a key: an encrypted key file, or (with --pkcs11-*) a key inside an HSM and a
    reference file naming it."""
    from jinqiao.core.crypto import get_suite
    from jinqiao.keys import generate_key, save_key

    if path.exists():
        raise InvalidInput(f"{path} exists; refusing to overwrite it")
    get_suite(suite)  # an unknown suite: one line, before any prompt
    if pkcs11_module is not None or pkcs11_token is not None or pkcs11_label is not None:
        if new_key.insecure_plaintext or new_key.source != PassphraseSource():
            raise InvalidInput("an HSM key takes no passphrase and is never plaintext")
        info = _create_in_token(path, suite, pkcs11_module, pkcs11_token, pkcs11_label, pin_file)
    else:
        protection = new_key.protection(f"new key {path}")
        signer = generate_key(suite)
        save_key(path, signer, protection)
        info = read_key_info(path)
    _show(path, info, json_output)


def _create_in_token(
    path: Path,
    suite: str,
    module: str | None,
    token: str | None,
    label: str | None,
    pin_file: Path | None,
) -> KeyInfo:
    from jinqiao.keys import save_key_reference
    from jinqiao.keys.hsm import generate_in_token
    from jinqiao.keys.passphrase import read_pin

    if module is None or token is None or label is None:
        raise InvalidInput("an HSM key needs --pkcs11-module, --pkcs11-token and --pkcs11-label")
    pin_path = str(pin_file.resolve()) if pin_file is not None else None
    pin = read_pin(pin_path, f"token {token!r}")
    reference = generate_in_token(module, token, label, pin, suite_name=suite, pin_file=pin_path)
    save_key_reference(path, reference)
    return read_key_info(path)


@keys_app.command("import")
@guarded
@with_new_key_options
def keys_import(
    path: Annotated[Path, typer.Argument(help="Where to write the key file (mode 0600).")],
    new_key: NewKeyOptions,
    secret_fd: Annotated[
        int, typer.Option(min=0, help="File descriptor to read the secret key (hex) from.")
    ] = 0,
    suite: SuiteOption = DEFAULT_SUITE,
    json_output: JsonOption = False,
) -> None:
    """Seal an existing secret key (hex, one line on standard input or --secret-fd) into a key
    file; the secret is never echoed."""
    from jinqiao.core.crypto import get_suite
    from jinqiao.keys import save_key
    from jinqiao.keys.passphrase import read_secret_line

    if path.exists():
        raise InvalidInput(f"{path} exists; refusing to overwrite it")
    crypto_suite = get_suite(suite)
    line = read_secret_line(sys.stdin.fileno() if secret_fd == 0 else secret_fd)
    try:
        secret = bytes.fromhex(line.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the secret key must be hexadecimal") from None
    signer = crypto_suite.signer(secret)
    save_key(path, signer, new_key.protection(f"key {path}"))
    _show(path, read_key_info(path), json_output)


@keys_app.command("export-public")
@guarded
def keys_export_public(
    path: Annotated[Path, typer.Argument(help="A key file of any kind.")],
    json_output: JsonOption = False,
) -> None:
    """Print a key file's kind, suite, address and public key — without unlocking it, never the
    secret."""
    _show(path, read_key_info(path), json_output)


@keys_app.command("migrate")
@guarded
@with_new_key_options
def keys_migrate(
    paths: Annotated[list[Path], typer.Argument(help="Plaintext key files to encrypt in place.")],
    new_key: NewKeyOptions,
    json_output: JsonOption = False,
) -> None:
    """Encrypt plaintext key files (the older format) in place, under one new passphrase. Every
    file is checked first: if any is not a plaintext key file, none is changed. No plaintext
    copy is kept (docs/keys.md)."""
    from jinqiao.keys import migrate_key

    for path in paths:
        info = read_key_info(path)
        if info.kind != "plaintext":
            raise InvalidInput(f"{path} is already {info.kind}; nothing was migrated")
    protection = new_key.encrypted("the migrated keys")
    migrated = [(path, migrate_key(path, protection)) for path in paths]
    if json_output:
        emit_json([{"file": str(path), "address": info.address} for path, info in migrated])
        return
    for path, info in migrated:
        console.print(f"[green]encrypted[/] {path}  (address {info.address})")
