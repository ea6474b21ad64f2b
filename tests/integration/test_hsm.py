"""HSM keys through PKCS#11 (src/jinqiao/keys/hsm.py) against a real SoftHSM2 token: generated in
the token, never extractable, signing there, opened through a reference file like any key file;
and each mistake (module missing, token unknown, wrong PIN, label not found or taken, a
reference for another key) a clear error that changes nothing."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from typer.testing import CliRunner

from jinqiao.cli.main import app
from jinqiao.client import MultiSigner
from jinqiao.core.crypto import get_suite
from jinqiao.core.errors import InvalidInput, Rejection
from jinqiao.core.types import MultiSignedTransaction
from jinqiao.keys import load_key, read_key_info
from jinqiao.keys.hsm import HsmSigner
from tests.helpers.chain import Chain
from tests.helpers.softhsm import USER_PIN, SoftToken

runner = CliRunner()
SUITE = get_suite("ed25519-sha256")


def create(token: SoftToken, path: Path, label: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*token.create_arguments(path, label), "--json"])
    return result.exit_code, result.stdout, result.stderr


def reference(tmp_path: Path, token: SoftToken, name: str = "hsm.json") -> tuple[Path, str]:
    label = f"key-{uuid.uuid4().hex[:12]}"
    path = tmp_path / name
    code, _, err = create(token, path, label)
    assert code == 0, err
    return path, label


def edited(source: Path, target: Path, **change: object) -> Path:
    document = json.loads(source.read_bytes())
    document.update(change)
    target.write_text(json.dumps(document))
    return target


def refused(path: Path, *fragments: str) -> None:
    before = path.read_bytes()
    with pytest.raises(InvalidInput) as info:
        load_key(path)
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    assert USER_PIN not in info.value.message
    assert path.read_bytes() == before


def test_a_key_generated_in_the_token_signs_there(tmp_path: Path, soft_token: SoftToken) -> None:
    path, label = reference(tmp_path, soft_token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_bytes())
    assert document["format"] == "jinqiao-pkcs11-v1"
    assert (document["module"], document["token"], document["label"]) == (
        soft_token.module,
        soft_token.label,
        label,
    )
    assert "secret_key" not in document
    info = read_key_info(path)
    assert info.kind == "pkcs11"
    signer = load_key(path)
    assert isinstance(signer, HsmSigner)
    assert signer.public_key.hex() == info.public_key
    assert signer.address == SUITE.address(signer.public_key)
    signature = signer.sign(b"a transaction")
    assert SUITE.verify(signer.public_key, b"a transaction", signature)
    assert not SUITE.verify(signer.public_key, b"another", signature)
    with pytest.raises(InvalidInput, match="never leaves the token"):
        signer.secret_key()
    assert label in repr(signer) and USER_PIN not in repr(signer)
    signer.close()


def test_the_private_key_is_sensitive_and_not_extractable(
    tmp_path: Path, soft_token: SoftToken
) -> None:
    _, label = reference(tmp_path, soft_token)
    token = pkcs11.lib(soft_token.module).get_token(token_label=soft_token.label)
    with token.open(user_pin=USER_PIN) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.TOKEN] is True
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]


def test_export_public_names_the_hsm_key(tmp_path: Path, soft_token: SoftToken) -> None:
    path, _ = reference(tmp_path, soft_token)
    result = runner.invoke(app, ["keys", "export-public", str(path), "--json"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["kind"] == "pkcs11"
    assert shown["public_key"] == read_key_info(path).public_key


def test_a_taken_label_is_refused_and_nothing_written(
    tmp_path: Path, soft_token: SoftToken
) -> None:
    _, label = reference(tmp_path, soft_token)
    again = tmp_path / "again.json"
    code, _, err = create(soft_token, again, label)
    assert code == 1 and "already holds objects labelled" in err
    assert not again.exists()


def test_creating_with_a_wrong_pin_or_missing_module_changes_nothing(
    tmp_path: Path, soft_token: SoftToken
) -> None:
    wrong_pin = tmp_path / "wrong-pin"
    wrong_pin.write_text("000000\n")
    target = tmp_path / "never.json"
    result = runner.invoke(
        app,
        [
            "keys",
            "create",
            str(target),
            "--pkcs11-module",
            soft_token.module,
            "--pkcs11-token",
            soft_token.label,
            "--pkcs11-label",
            "never",
            "--pin-file",
            str(wrong_pin),
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(f"wrong PIN for token {soft_token.label!r}")
    assert "Traceback" not in result.stderr
    assert not target.exists()
    result = runner.invoke(
        app,
        [
            "keys",
            "create",
            str(target),
            "--pkcs11-module",
            "/nonexistent/libpkcs11.so",
            "--pkcs11-token",
            soft_token.label,
            "--pkcs11-label",
            "never",
            "--pin-file",
            str(soft_token.pin_file),
        ],
    )
    assert result.exit_code == 1 and "PKCS#11 module /nonexistent/libpkcs11.so not found" in (
        result.stderr
    )
    assert not target.exists()


def test_opening_a_reference_refuses_every_mistake_clearly(
    tmp_path: Path, soft_token: SoftToken
) -> None:
    path, _ = reference(tmp_path, soft_token)
    wrong_pin = tmp_path / "wrong-pin"
    wrong_pin.write_text("000000\n")
    other, _ = reference(tmp_path, soft_token, "other.json")
    cases = [
        (dict(module="/nonexistent/libpkcs11.so"), "PKCS#11 module /nonexistent/libpkcs11.so"),
        (dict(module=str(tmp_path / "other.json")), "cannot load PKCS#11 module"),
        (dict(token="no-such-token"), "no token labelled 'no-such-token'"),
        (dict(pin_file=str(wrong_pin)), f"wrong PIN for token {soft_token.label!r}"),
        (dict(pin_file=str(tmp_path / "absent")), "cannot read the PIN file"),
        (dict(label="no-such-label"), "no key labelled 'no-such-label'"),
        (dict(label=json.loads(other.read_bytes())["label"]), "public keys differ"),
        (dict(suite="sm2-sm3"), "sm2-sm3"),
        (dict(pin_file=None), "needs its PIN"),
    ]
    for index, (change, message) in enumerate(cases):
        refused(edited(path, tmp_path / f"case-{index}.json", **change), message)


def test_an_sm2_key_in_the_token_is_refused_by_name(tmp_path: Path, soft_token: SoftToken) -> None:
    """SM2 has no PKCS#11 mechanism in SoftHSM2 or the standard: the suite is refused before the
    token is touched, and nothing is written (docs/keys.md)."""
    path = tmp_path / "sm2.json"
    label = f"key-{uuid.uuid4().hex[:12]}"
    result = runner.invoke(app, [*soft_token.create_arguments(path, label), "--suite", "sm2-sm3"])
    assert result.exit_code == 1
    assert "suite 'sm2-sm3' has no PKCS#11 mapping" in result.stderr, result.stderr
    assert not path.exists()


def test_an_hsm_key_and_a_key_file_sign_one_transaction(
    tmp_path: Path, soft_token: SoftToken
) -> None:
    """``MultiSigner`` gathers a token's signature and a keystore's behind one ``Signer``; the
    runtime checks both (docs/keys.md "Several signatures in one transaction")."""
    path, _ = reference(tmp_path, soft_token)
    hsm = load_key(path)
    file_key = tmp_path / "ops.json"
    assert (
        runner.invoke(app, ["keys", "create", str(file_key), "--insecure-plaintext"]).exit_code == 0
    )
    chain = Chain()
    signer = MultiSigner([load_key(file_key), hsm], chain.address("alice"))
    transaction = chain.transaction(signer, "registry", "set_policy", b"")
    assert isinstance(transaction, MultiSignedTransaction)
    assert transaction.signers() == (signer.public_key, hsm.public_key)
    chain.runtime.verify_signature(transaction)  # both signatures verify
    forged = MultiSignedTransaction(transaction.body, transaction.signature, (b"\x00" * 64,))
    with pytest.raises(Rejection, match="co-signature 0 does not verify"):
        chain.runtime.verify_signature(forged)
