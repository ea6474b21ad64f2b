"""Private data: trade document bodies kept off the chain, in each party's node, and shared
node-to-node only with the organizations entitled to them (docs/access.md "Private data", ADR 0037).

The chain holds a document's hash (a receivable's ``Backing.document_hash``, indexed as
``supplychain`` ``document/<hash>``: the SHA-256 of an invoice or purchase order, the CBV 2.0
hash of a shipping or receiving event whose EPCIS document is the body); the body lives in the
``PrivateDocumentStore`` of the nodes of the receivable's parties. Who is a party is read from
the committed state each time (``document_parties``): the obligor of the root receivable the
document backs, and the holder, pledgee and offered funder of each of its live parts — so a bank
that is offered a part to finance may read the invoice behind it, and one that is not may not.

A party's node that lacks a body pulls it (``PrivateDataSources.fetch``) from the nodes listed in
its configuration (``private_data_sources``: other members' API URLs), over HTTPS with its own
node certificate as the client certificate, so the serving node authenticates the *organization*
asking and applies the same rule. On arrival the body must be the document of the hash the chain
holds (``check_body``); one that is not is refused, logged and never stored
(``private_data_source_mismatch``; ``private_data_mismatch`` for a body put on the node).

Each body is encrypted under its own random key (``ChaCha20-Poly1305``, associated data = the
hash), as ``jinqiao.credit.store`` does per subject: erasing a document destroys its key and
remembers the hash, so it is neither served nor stored again, and the chain stays valid.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.x509.oid import NameOID

from jinqiao.apps.credit.records import Hash
from jinqiao.apps.supplychain.model import (
    LIVE,
    SUPPLYCHAIN,
    DocumentUse,
    Receivable,
    Root,
    document_key,
    receivable_key,
    root_key,
)
from jinqiao.core.codec import decode_stored
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.credit.store import NONCE_BYTES, CreditStore, SqliteTransaction
from jinqiao.epcis.document import xml_event_hashes
from jinqiao.execution.state import full_key

log = logging.getLogger(__name__)

DOCUMENT_HASH_BYTES = 32
MAX_PRIVATE_DOCUMENT_BYTES = 4 * 1024 * 1024
"""A trade document body (an invoice or purchase order: PDF, XML, JSON); as large as an EPCIS
document may be (``jinqiao.epcis.document.MAX_DOCUMENT_BYTES``)."""
FETCH_TIMEOUT_S = 10.0
"""Per source: connect, and each read of the answer."""
LOCAL_ONLY_PARAMETER = "local_only"
"""The query parameter a pulling node sends, so the node it asks answers from its own store
and never pulls in turn (no cascades, no loops)."""
STORE_FILE = "private-documents.sqlite"
CREDIT_STORE_FILE = "credit-records.sqlite"
"""The node's credit store (``jinqiao.credit.CreditStore``): the records its organization
submitted, disclosed to entitled readers (``node.credit_disclosure``)."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    document_hash BLOB PRIMARY KEY,
    organization TEXT NOT NULL,
    key BLOB NOT NULL,
    nonce BLOB NOT NULL,
    sealed BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erased (document_hash BLOB PRIMARY KEY) WITHOUT ROWID;
"""


class PrivateDataMismatch(InvalidInput):
    """A body whose SHA-256 is not the hash it was given for (the chain's)."""

    code = "private_data_mismatch"


class PrivateDataSourceMismatch(InvalidInput):
    """Every source that served a body served one that does not hash to the chain's hash."""

    code = "private_data_source_mismatch"


class PrivateDataErased(InvalidInput):
    """The document was erased from this node: never served nor stored again."""

    code = "private_data_erased"


class PrivateDataNotHeld(InvalidInput):
    """Neither this node nor any of its sources holds the body."""

    code = "private_data_not_held"


def document_hash_of(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def check_body(document_hash: bytes, body: bytes) -> None:
    """Raise ``PrivateDataMismatch`` unless ``body`` is the document ``document_hash`` names:
    its SHA-256 (an invoice, a purchase order), or an EPCIS 2.0 XML document holding the event
    whose CBV 2.0 hash it is (a shipping or receiving event backing a receivable)."""
    if len(body) > MAX_PRIVATE_DOCUMENT_BYTES:
        raise InvalidInput(
            f"a private document is at most {MAX_PRIVATE_DOCUMENT_BYTES} bytes",
            code="request_too_large",
        )
    actual = document_hash_of(body)
    if actual == document_hash or document_hash in xml_event_hashes(body):
        return
    raise PrivateDataMismatch(
        f"the body's SHA-256 is {actual.hex()}, not {document_hash.hex()}, nor is it an EPCIS "
        "XML document with an event of that hash",
        document_hash=document_hash.hex(),
        body_hash=actual.hex(),
    )


def document_parties(get: Callable[[bytes], bytes | None], document_hash: bytes) -> frozenset[str]:
    """The organizations entitled to a document's body, read through ``get`` (a full state key to
    its committed value): the parties of the root receivable it backs (``root_parties``). Empty
    when the chain records no such document."""
    stored = get(full_key(SUPPLYCHAIN, document_key(document_hash)))
    if stored is None:
        return frozenset()
    return root_parties(get, decode_stored(stored, DocumentUse).root_id)


def receivable_parties(get: Callable[[bytes], bytes | None], receivable_id: int) -> frozenset[str]:
    """The parties of the root receivable a part (any part, live or closed) belongs to; empty
    when there is no such part."""
    stored = get(full_key(SUPPLYCHAIN, receivable_key(receivable_id)))
    if stored is None:
        return frozenset()
    return root_parties(get, decode_stored(stored, Receivable).root_id)


def root_parties(get: Callable[[bytes], bytes | None], root_id: int) -> frozenset[str]:
    """The obligor of a root receivable and the holder, pledgee and offered funder of each of its
    live parts; empty when there is no such root."""
    stored_root = get(full_key(SUPPLYCHAIN, root_key(root_id)))
    if stored_root is None:
        return frozenset()
    root = decode_stored(stored_root, Root)
    parties = {root.obligor}
    for part_id in root.live_parts:
        stored_part = get(full_key(SUPPLYCHAIN, receivable_key(part_id)))
        if stored_part is None:
            raise NodeFault("a live part of a root is not stored", receivable=part_id)
        part = decode_stored(stored_part, Receivable)
        if part.status != LIVE:
            continue
        parties.add(part.holder)
        if part.pledgee:
            parties.add(part.pledgee)
        if part.offer is not None:
            parties.add(part.offer.funder)
    return frozenset(parties)


@dataclass(frozen=True)
class StoredDocument:
    body: bytes
    organization: str
    """The organization that brought it to this node (its own submitter, or the node's own
    organization when pulled from a source)."""


class PrivateDocumentStore:
    """Document bodies by hash in the SQLite file at ``path``, each under its own key. Safe to
    use from the API's worker threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PrivateDocumentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, document_hash: bytes, body: bytes, organization: str) -> None:
        """Keep a body after checking it against its hash; saving it again replaces it."""
        check_body(document_hash, body)
        key = ChaCha20Poly1305.generate_key()
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = ChaCha20Poly1305(key).encrypt(nonce, body, document_hash)
        with self._lock, SqliteTransaction(self._db):
            if self._is_erased(document_hash):
                raise PrivateDataErased(f"document {document_hash.hex()} was erased here")
            self._db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)",
                (document_hash, organization, key, nonce, sealed),
            )

    def load(self, document_hash: bytes) -> StoredDocument | None:
        """The body and who brought it, or ``None``; ``PrivateDataErased`` if it was erased."""
        with self._lock:
            if self._is_erased(document_hash):
                raise PrivateDataErased(f"document {document_hash.hex()} was erased here")
            row = self._db.execute(
                "SELECT organization, key, nonce, sealed FROM documents WHERE document_hash = ?",
                (document_hash,),
            ).fetchone()
        if row is None:
            return None
        organization = str(row[0])
        key, nonce, sealed = (bytes(value) for value in row[1:])
        try:
            body = ChaCha20Poly1305(key).decrypt(nonce, sealed, document_hash)
        except InvalidTag:
            raise NodeFault(
                "a stored private document does not decrypt", document=document_hash.hex()
            ) from None
        return StoredDocument(body, organization)

    def erase(self, document_hash: bytes) -> bool:
        """Destroy a body and its key, and refuse it from now on; whether there was one."""
        with self._lock, SqliteTransaction(self._db):
            cursor = self._db.execute(
                "DELETE FROM documents WHERE document_hash = ?", (document_hash,)
            )
            self._db.execute("INSERT OR IGNORE INTO erased VALUES (?)", (document_hash,))
        return cursor.rowcount > 0

    def is_erased(self, document_hash: bytes) -> bool:
        with self._lock:
            return self._is_erased(document_hash)

    def _is_erased(self, document_hash: bytes) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM erased WHERE document_hash = ?", (document_hash,)
        ).fetchone()
        return row is not None


@dataclass(frozen=True)
class SourceAnswer:
    """What one source said: ``status`` is ``ok``, ``mismatch``, an HTTP status, or
    ``unreachable``."""

    source: str
    status: str


class PrivateDataSources:
    """The other members' nodes this node pulls bodies from, asked over HTTPS with this node's
    own certificate (``<home>/tls/node.crt``) as its client certificate."""

    def __init__(self, sources: Sequence[str], tls_directory: Path) -> None:
        self.sources = tuple(source.rstrip("/") for source in sources)
        self.tls_directory = tls_directory
        self._context: ssl.SSLContext | None = None
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    def http(self) -> httpx.Client:
        """One HTTPS client for every pull, kept for the node's life: its pool keeps the
        connections to the sources open, so a pull pays no new TCP and TLS handshake (a credit
        score asks every source each time). httpx's pool is safe across threads."""
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(verify=self.ssl_context(), timeout=FETCH_TIMEOUT_S)
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            context = ssl.create_default_context(cafile=str(self.tls_directory / "roots.pem"))
            context.load_cert_chain(
                self.tls_directory / "node.crt", self.tls_directory / "node.key"
            )
            self._context = context
        return self._context

    def fetch(self, document_hash: bytes) -> tuple[bytes | None, list[SourceAnswer]]:
        """The first body a source serves that hashes to ``document_hash``, and what each source
        asked said. A body that does not match is refused and logged, and the next source asked."""
        answers: list[SourceAnswer] = []
        http = self.http()
        for source in self.sources:
            status, body = _ask(http, source, document_hash)
            if body is not None:
                try:
                    check_body(document_hash, body)
                except InvalidInput as refused:
                    log.warning("private data from %s refused: %s", source, refused.message)
                    status = "mismatch"
                else:
                    answers.append(SourceAnswer(source, "ok"))
                    return body, answers
            answers.append(SourceAnswer(source, status))
        return None, answers


def _ask(http: httpx.Client, source: str, document_hash: bytes) -> tuple[str, bytes | None]:
    url = f"{source}/v1/private/documents/{document_hash.hex()}"
    try:
        with http.stream("GET", url, params={LOCAL_ONLY_PARAMETER: "true"}) as answer:
            if answer.status_code != 200:
                return str(answer.status_code), None
            body = b""
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_PRIVATE_DOCUMENT_BYTES:
                    return "too_large", None
            return "ok", body
    except httpx.HTTPError as exc:
        log.warning("private data source %s unreachable: %s", source, exc)
        return "unreachable", None


class PrivateData:
    """A node's private data: its documents, its credit records (``credit``, docs/credit.md
    "Disclosure"), its sources, and the organization it acts for."""

    def __init__(
        self, home: Path, sources: Sequence[str], organization: str, hash_function: Hash
    ) -> None:
        self.store = PrivateDocumentStore(home / "private" / STORE_FILE)
        self.credit = CreditStore(home / "private" / CREDIT_STORE_FILE, hash_function)
        self.sources = PrivateDataSources(sources, home / "tls")
        self.organization = organization

    def close(self) -> None:
        self.sources.close()
        self.store.close()
        self.credit.close()


def organization_of_certificate(certificate_file: Path) -> str:
    """The organization (``O``) of a node's own TLS certificate: the one it acts for (the
    ``operator`` routes of ``api.access`` serve it; its private data pulls present it)."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the node certificate {certificate_file}: {exc}") from None
    names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if len(names) != 1:
        raise InvalidInput(f"{certificate_file} must name exactly one organization")
    return str(names[0].value)
