"""``jinqiao keys``: create, import, identify and migrate key files; show and set an account's
signing policy, rotate and revoke its keys, co-sign a pending approval, and prepare, co-sign
and submit one transaction that several keys sign (docs/keys.md).

Every key a command creates is encrypted unless ``--insecure-plaintext`` is given; an HSM key is
generated in the token and only its reference is written. Passphrases come from
``--passphrase-env``, ``--passphrase-fd``, ``--passphrase-file``, the environment or a prompt
(``jinqiao.keys.passphrase``), never from an argument; secrets are never printed.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from jinqiao.cli.common import (
    JsonOption,
    KeyOption,
    SuiteOption,
    Target,
    guarded,
    send,
    with_options,
    with_submit_target,
    with_target,
)
from jinqiao.client import AccountKey, add_signature, missing_signers, prepare_multi_signed
from jinqiao.client.core import DEFAULT_VALID_FOR_BLOCKS
from jinqiao.core.codec import encode
from jinqiao.core.crypto import DEFAULT_SUITE, CryptoSuite, Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.core.hashing import transaction_hash
from jinqiao.core.limits import MAX_TRANSACTION_BYTES
from jinqiao.core.types import MultiSignedTransaction, TransactionBody, decode_transaction
from jinqiao.execution.identity import AmountRule, PolicyKey
from jinqiao.fileio import PUBLIC_FILE_MODE, load_bounded, save_atomically
from jinqiao.keys import (
    Encrypted,
    InsecurePlaintext,
    KeyInfo,
    KeyProtection,
    PassphraseSource,
    load_key,
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


# -- signing policies on chain (docs/keys.md "Signing policies") -----------------------------

policy_app = typer.Typer(help="Show or set an account's signing policy.", no_args_is_help=True)
keys_app.add_typer(policy_app, name="policy")

AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        help="The account the key signs for (name or address); default: the key's own address.",
    ),
]


def _signer(target: Target, key: str, account: str | None) -> Signer:
    """The key ``--key``, signing for ``--account`` when given (``AccountKey``)."""
    signer = target.key(key)
    return signer if account is None else AccountKey(signer, target.address(account))


def _public_key(text: str) -> bytes:
    """A public key given as hex or as a key file (read without unlocking it)."""
    path = Path(text)
    if path.exists():
        return bytes.fromhex(read_key_info(path).public_key)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidInput(f"{text[:80]!r} is neither a key file nor a hex public key") from None


def _member(text: str) -> PolicyKey:
    """``KEY:WEIGHT`` (``KEY`` hex or a key file)."""
    key, _, weight = text.rpartition(":")
    if not key or not weight.isdigit():
        raise InvalidInput(f"--member {text[:80]!r} is not KEY:WEIGHT")
    return PolicyKey(_public_key(key), int(weight))


def _amount_rule(text: str) -> AmountRule:
    """``ASSET:MIN_AMOUNT:KEY`` (``KEY`` hex or a key file)."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        raise InvalidInput(f"--amount-rule {text[:80]!r} is not ASSET:MIN_AMOUNT:KEY")
    return AmountRule(parts[0], int(parts[1]), _public_key(parts[2]))


@policy_app.command("show")
@guarded
@with_target
def policy_show(
    target: Target,
    account: Annotated[str, typer.Argument(help="Account name or address.")],
    json_output: JsonOption = False,
) -> None:
    """An account's signing policy, read with a proof (its own key alone when it set none)."""
    with target.client() as client:
        policy = client.keys.policy(target.address(account))
    if json_output:
        emit_json(
            {
                "keys": [
                    {"public_key": k.public_key.hex(), "weight": k.weight} for k in policy.keys
                ],
                "threshold": policy.threshold,
                "amount_rules": [
                    {"asset": r.asset, "min_amount": r.min_amount, "public_key": r.public_key.hex()}
                    for r in policy.amount_rules
                ],
                "revoked": [public_key.hex() for public_key in policy.revoked],
            }
        )
        return
    console.print(f"threshold  {policy.threshold}")
    for member in policy.keys:
        console.print(f"key        {member.public_key.hex()}  weight {member.weight}")
    for rule in policy.amount_rules:
        console.print(f"rule       {rule.asset} >= {rule.min_amount}: {rule.public_key.hex()}")
    for public_key in policy.revoked:
        console.print(f"revoked    {public_key.hex()}")


@policy_app.command("set")
@guarded
@with_submit_target
def policy_set(
    target: Target,
    key: KeyOption,
    member: Annotated[
        list[str], typer.Option("--member", help="KEY:WEIGHT (hex or key file); repeat.")
    ],
    threshold: Annotated[int, typer.Option(min=1)],
    amount_rule: Annotated[
        list[str] | None,
        typer.Option("--amount-rule", help="ASSET:MIN_AMOUNT:KEY; repeat."),
    ] = None,
    account: AccountOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace the account's signing policy (signed under its current policy)."""
    keys = tuple(_member(text) for text in member)
    rules = tuple(_amount_rule(text) for text in amount_rule or ())
    send(
        target,
        json_output,
        lambda t, c: c.keys.set_policy(_signer(t, key, account), keys, threshold, rules),
    )


@keys_app.command("rotate")
@guarded
@with_submit_target
def keys_rotate(
    target: Target,
    new_key: Annotated[str, typer.Argument(help="The new key: a key file or hex public key.")],
    key: KeyOption,
    old_key: Annotated[
        str | None, typer.Option("--old", help="The key to replace; default: --key's.")
    ] = None,
    account: AccountOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace a key of the account's policy, keeping the address; the old key is revoked."""
    new_public_key = _public_key(new_key)

    def rotate(t: Target, c: Any) -> Any:
        signer = _signer(t, key, account)
        old = signer.public_key if old_key is None else _public_key(old_key)
        return c.keys.rotate(signer, old, new_public_key)

    send(target, json_output, rotate)


@keys_app.command("revoke")
@guarded
@with_submit_target
def keys_revoke(
    target: Target,
    revoked_key: Annotated[str, typer.Argument(help="The lost key: a key file or hex public key.")],
    key: KeyOption,
    account: AccountOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove a lost key from the account's policy at once (refused key_revoked from then on)."""
    public_key = _public_key(revoked_key)
    send(target, json_output, lambda t, c: c.keys.revoke(_signer(t, key, account), public_key))


@keys_app.command("approve")
@guarded
@with_submit_target
def keys_approve(
    target: Target,
    approval_hash: Annotated[str, typer.Argument(help="The proposing transaction's hash (hex).")],
    key: KeyOption,
    account: AccountOption = None,
    json_output: JsonOption = False,
) -> None:
    """Co-sign a pending approval with another key of the account's policy."""
    try:
        approval = bytes.fromhex(approval_hash)
    except ValueError:
        raise InvalidInput("the approval hash is 64 hex characters") from None
    send(target, json_output, lambda t, c: c.keys.approve(_signer(t, key, account), approval))


# -- one transaction signed by several keys: prepare, cosign, submit (docs/keys.md) ----------

PREPARED_FORMAT = "jinqiao-multi-signed-transaction/1"
MAX_PREPARED_FILE_BYTES = 4 * MAX_TRANSACTION_BYTES
"""The JSON file holds the transaction in hex and a summary: well under four times its size."""


def _save_prepared(path: Path, transaction: MultiSignedTransaction, suite: CryptoSuite) -> None:
    """The file's ``transaction`` (hex of the canonical bytes) is what counts; the other fields
    are a summary for the people who sign, recomputed from it at every save."""
    body = transaction.body
    missing = missing_signers(transaction)
    document = {
        "format": PREPARED_FORMAT,
        "transaction_hash": transaction_hash(suite, body).hex(),
        "sender": body.sender.hex(),
        "contract": body.contract,
        "method": body.method,
        "args_hex": body.args.hex(),
        "valid_until": body.valid_until,
        "signers": [
            {"public_key": key.hex(), "signed": key not in missing} for key in transaction.signers()
        ],
        "transaction": encode(transaction).hex(),
    }
    save_atomically(path, (json.dumps(document, indent=2) + "\n").encode(), mode=PUBLIC_FILE_MODE)


def _load_prepared(path: Path) -> MultiSignedTransaction:
    data = load_bounded(path, MAX_PREPARED_FILE_BYTES)
    not_prepared = InvalidInput(f"{path} is not a prepared transaction file ({PREPARED_FORMAT})")
    try:
        document = json.loads(data)
        if document["format"] != PREPARED_FORMAT:
            raise not_prepared
        raw = bytes.fromhex(document["transaction"])
    except (ValueError, KeyError, TypeError):
        raise not_prepared from None
    transaction = decode_transaction(raw, max_bytes=MAX_TRANSACTION_BYTES)
    if not isinstance(transaction, MultiSignedTransaction):
        raise InvalidInput(f"{path} holds a transaction with one signature, not several")
    return transaction


def _show_prepared(path: Path, transaction: MultiSignedTransaction, suite: CryptoSuite) -> None:
    identity = transaction_hash(suite, transaction.body).hex()
    missing = missing_signers(transaction)
    signed = len(transaction.signers()) - len(missing)
    console.print(
        f"{path}: tx {identity}, {signed} of {len(transaction.signers())} signatures"
        + (f"; missing {', '.join(key.hex()[:16] + '…' for key in missing)}" if missing else ""),
        highlight=False,
    )


@keys_app.command("prepare")
@guarded
@with_target
def keys_prepare(
    target: Target,
    path: Annotated[Path, typer.Argument(help="Where to write the prepared transaction (new).")],
    contract: Annotated[str, typer.Argument(help="The contract to call.")],
    method: Annotated[str, typer.Argument(help="Its method.")],
    signers: Annotated[
        list[str],
        typer.Option("--signer", help="KEY (hex or key file), 2 or more; the first is public_key."),
    ],
    account: Annotated[str, typer.Option("--account", help="The account (name or address).")],
    args_hex: Annotated[
        str, typer.Option("--args-hex", help="The canonical bytes of its arguments (hex).")
    ] = "",
    valid_for: Annotated[int, typer.Option(min=1, help="Blocks it stays valid.")] = (
        DEFAULT_VALID_FOR_BLOCKS
    ),
) -> None:
    """Write a call with every signature missing, for several keys to sign one at a time."""
    try:
        args = bytes.fromhex(args_hex)
    except ValueError:
        raise InvalidInput("--args-hex is not hex") from None
    public_keys = [_public_key(text) for text in signers]
    if len(public_keys) < 2:
        raise InvalidInput("give at least two --signer keys (one key signs a transaction alone)")
    with target.client() as client:
        height = int(client.status()["height"])
        body = TransactionBody(
            client.genesis.chain_id,
            target.address(account),
            public_keys[0],
            secrets.randbits(63),
            height + valid_for,
            contract,
            method,
            args,
        )
        transaction = prepare_multi_signed(body, public_keys[1:])
        if path.exists():
            raise InvalidInput(f"{path} exists; refusing to overwrite it")
        _save_prepared(path, transaction, client.genesis.suite)
        _show_prepared(path, transaction, client.genesis.suite)


@keys_app.command("cosign")
@guarded
def keys_cosign(
    path: Annotated[Path, typer.Argument(help="A prepared transaction file.")],
    key: Annotated[Path, typer.Option("--key", "-k", help="The signing key file.")],
) -> None:
    """Add one key's signature to a prepared transaction file (no network needed)."""
    transaction = _load_prepared(path)
    signer = load_key(key)
    transaction = add_signature(transaction, signer)
    _save_prepared(path, transaction, signer.suite)
    _show_prepared(path, transaction, signer.suite)


@keys_app.command("submit")
@guarded
@with_submit_target
def keys_submit(
    target: Target,
    path: Annotated[Path, typer.Argument(help="A prepared transaction file, fully signed.")],
    json_output: JsonOption = False,
) -> None:
    """Send a prepared transaction once every signer has signed, and wait for its block."""
    transaction = _load_prepared(path)
    missing = missing_signers(transaction)
    if missing:
        keys = ", ".join(public_key.hex() for public_key in missing)
        raise InvalidInput(f"{path} still lacks the signatures of {keys}")
    send(target, json_output, lambda t, c: c.resend(transaction))
