"""Backup and restore of a node's store (``jinqiao node backup`` / ``node restore``;
docs/operations.md "Backup and restore").

A backup is taken while the node runs: LMDB's own copy (``mdb_env_copy2`` with compaction) reads
the whole store inside one read transaction, so the copy is the store exactly as it was after
some committed block — never a block half-written — while the node goes on committing (LMDB lets
several processes open one environment; the reader holds no lock the writer waits for).

The archive is a tar file of two members: ``manifest.json`` (chain, genesis hash, head height,
its state root and block hash, the store's size and SHA-256) and ``data.mdb`` (the copy).
``restore`` refuses an archive that is damaged, of another chain or genesis than the home's, or a
home that already has a store; it unpacks into a directory beside the store and renames it into
place only once the copy opens, is intact and says what the manifest says. The restored node then
fetches the blocks committed since the backup from its peers, verifying each certificate.

Only the store: the home's configuration, keys, TLS material, audit trail and the safety
module's records (``consensus/``: ``safety.record``, and one ``safety-<address>.record`` per key
after a key replacement) are not in a backup. Restoring a validator's store on a new machine
without its safety records is safe only if the old machine's node is stopped for good — copy
``consensus/`` with it when the old disk can still be read.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import lmdb
import msgspec

from jinqiao.core.crypto import CryptoSuite
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis, genesis_hash, load_genesis
from jinqiao.core.hashing import header_hash
from jinqiao.fileio import sync_directory
from jinqiao.node.config import load_config
from jinqiao.node.storage import Store, open_read_only

BACKUP_FORMAT = "jinqiao-node-backup/1"
MANIFEST_MEMBER = "manifest.json"
STORE_MEMBER = "data.mdb"
MAX_MANIFEST_BYTES = 64 * 1024
MAX_STORE_BYTES = 64 * 1024**3
"""The store's LMDB map size (``node.storage.MAP_SIZE_BYTES``): no real store is larger."""
_CHUNK_BYTES = 1024 * 1024


class BackupRefused(InvalidInput):
    code = "backup_refused"


class BackupManifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    chain_id: str
    genesis_hash: str
    height: int
    state_root: str
    block_hash: str
    """Hex of the head block's header hash; empty at height 0."""
    store_bytes: int
    store_sha256: str
    created_ms: int


def _digest(path: Path) -> tuple[int, str]:
    """The size and SHA-256 (hex) of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def _head_of(store_directory: Path, suite: CryptoSuite) -> tuple[str, int, str, str]:
    """The genesis hash, head height, state root and head block hash of the store in
    ``store_directory`` (hex), read from the store itself after checking it is intact."""
    store = Store(store_directory)
    try:
        store.check_intact()
        with store.snapshot() as snapshot:
            stored_genesis = snapshot.meta(b"genesis_hash")
            height = snapshot.head_height()
            head = snapshot.block(height) if height > 0 else None
            genesis_root = snapshot.meta(b"genesis_state_root")
    finally:
        store.close()
    if stored_genesis is None or genesis_root is None:
        raise BackupRefused(f"{store_directory} holds no initialized store")
    if head is None:
        return stored_genesis.hex(), height, genesis_root.hex(), ""
    header = head.block.header
    return stored_genesis.hex(), height, header.state_root.hex(), header_hash(suite, header).hex()


def _manifest(
    store_directory: Path, genesis: Genesis, created_ms: int, digest: tuple[int, str]
) -> BackupManifest:
    stored_genesis, height, state_root, block_hash = _head_of(store_directory, genesis.suite)
    return BackupManifest(
        format=BACKUP_FORMAT,
        chain_id=genesis.chain_id,
        genesis_hash=stored_genesis,
        height=height,
        state_root=state_root,
        block_hash=block_hash,
        store_bytes=digest[0],
        store_sha256=digest[1],
        created_ms=created_ms,
    )


def backup(home: Path, out: Path) -> BackupManifest:
    """Write a consistent copy of the store of the node in ``home`` — running or not — to the new
    archive ``out``."""
    config = load_config(home)
    genesis = load_genesis(_read(home / "genesis.json"))
    data_directory = home / config.data_dir
    if not (data_directory / STORE_MEMBER).is_file():
        raise BackupRefused(f"{data_directory} holds no store to back up")
    if out.exists():
        raise BackupRefused(f"{out} exists; choose a new file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=out.parent) as scratch:
        copy = Path(scratch) / "store"
        copy.mkdir(mode=0o700)
        try:
            environment = open_read_only(data_directory, max_dbs=16)
        except lmdb.Error as exc:
            raise BackupRefused(f"cannot open the store in {data_directory}: {exc}") from None
        try:
            environment.copy(str(copy), compact=True)
        finally:
            environment.close()
        # Hashed and archived before anything opens the copy: what the manifest describes is
        # byte for byte what the archive holds.
        digest = _digest(copy / STORE_MEMBER)
        archive = Path(scratch) / "backup.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(copy / STORE_MEMBER, arcname=STORE_MEMBER, recursive=False)
            manifest = _manifest(copy, genesis, int(time.time() * 1000), digest)
            if manifest.genesis_hash != genesis_hash(genesis).hex():
                raise BackupRefused(f"the store in {data_directory} is not of the home's genesis")
            manifest_bytes = msgspec.json.format(msgspec.json.encode(manifest), indent=2)
            member = tarfile.TarInfo(MANIFEST_MEMBER)
            member.size = len(manifest_bytes)
            member.mtime = manifest.created_ms // 1000
            member.mode = 0o600
            tar.addfile(member, io.BytesIO(manifest_bytes))
        _sync_file(archive)
        try:
            os.link(archive, out)
        except FileExistsError:
            raise BackupRefused(f"{out} exists; choose a new file") from None
        sync_directory(out.parent)
    return manifest


def _sync_file(path: Path) -> None:
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None


def _read_manifest(tar: tarfile.TarFile, source: Path) -> BackupManifest:
    try:
        member = tar.getmember(MANIFEST_MEMBER)
    except KeyError:
        raise BackupRefused(f"{source} is not a jinqiao node backup (no manifest)") from None
    if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
        raise BackupRefused(f"{source}: the manifest is not a small regular file")
    extracted = tar.extractfile(member)
    if extracted is None:
        raise BackupRefused(f"{source}: the manifest cannot be read")
    try:
        manifest = msgspec.json.decode(extracted.read(), type=BackupManifest)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BackupRefused(f"{source}: the manifest is not valid: {exc}") from None
    if manifest.format != BACKUP_FORMAT:
        raise BackupRefused(f"{source}: format {manifest.format[:40]!r} is not {BACKUP_FORMAT}")
    return manifest


def restore(home: Path, archive: Path) -> BackupManifest:
    """Restore the store in ``archive`` into the home of a stopped node whose store is absent
    (a new machine, or a store moved aside). Refuses, changing nothing, a damaged archive or one
    of another genesis."""
    config = load_config(home)
    genesis = load_genesis(_read(home / "genesis.json"))
    data_directory = home / config.data_dir
    if data_directory.exists() and any(data_directory.iterdir()):
        raise BackupRefused(
            f"{data_directory} already holds a store; move it aside first (stop the node)"
        )
    try:
        tar = tarfile.open(archive, "r:")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise BackupRefused(f"{archive} is not a tar archive: {exc}") from None
    with tar, tempfile.TemporaryDirectory(prefix=".restore-", dir=home) as scratch:
        manifest = _read_manifest(tar, archive)
        if manifest.genesis_hash != genesis_hash(genesis).hex():
            raise BackupRefused(
                f"{archive} is a backup of chain {manifest.chain_id!r} with genesis "
                f"{manifest.genesis_hash[:16]}…, not of this home's genesis"
            )
        try:
            member = tar.getmember(STORE_MEMBER)
        except KeyError:
            raise BackupRefused(f"{archive} holds no store") from None
        if not member.isfile() or not 0 < member.size <= MAX_STORE_BYTES:
            raise BackupRefused(f"{archive}: the store is not a regular file of a store's size")
        staged = Path(scratch) / "store"
        staged.mkdir(mode=0o700)
        source = tar.extractfile(member)
        if source is None:
            raise BackupRefused(f"{archive}: the store cannot be read")
        with (staged / STORE_MEMBER).open("wb") as target:
            shutil.copyfileobj(source, target, _CHUNK_BYTES)
        _sync_file(staged / STORE_MEMBER)
        digest = _digest(staged / STORE_MEMBER)
        # The bytes are checked before LMDB opens them: a damaged store may not even decode.
        if digest != (manifest.store_bytes, manifest.store_sha256):
            raise BackupRefused(
                f"{archive} is damaged: its store does not match its manifest "
                f"(SHA-256 {digest[1][:16]}… vs {manifest.store_sha256[:16]}…)"
            )
        found = _manifest(staged, genesis, manifest.created_ms, digest)
        if found != manifest:
            raise BackupRefused(
                f"{archive} is damaged: its store does not match its manifest "
                f"(height {found.height} vs {manifest.height}, SHA-256 {found.store_sha256[:16]}… "
                f"vs {manifest.store_sha256[:16]}…)"
            )
        if data_directory.exists():
            data_directory.rmdir()  # empty, checked above
        staged.rename(data_directory)
        sync_directory(home)
    return manifest


__all__ = ["BackupManifest", "BackupRefused", "backup", "restore"]
