"""Credit records disclosed node to node (docs/credit.md "Disclosure", ADR 0045): a submitter's
node serves the records of its credit store (``jinqiao.credit.CreditStore``, the file
``<home>/private/credit-records.sqlite``) to the reader a committed access entry names, and a
reader's node gathers them from the other members' nodes (its ``private_data_sources``, over the
same mutual TLS as private documents, ``node.private_data``).

Who may be disclosed what is read from the committed state each time (``disclosure_entitlement``),
never taken from the request: the subject's access entry ``access_sequence`` must be a
``records`` read by the caller's organization, and the consent it names must still be live at the
head (granted to that organization, not revoked, not expired at the head's block time, covering
the entry's purpose and categories). The categories disclosed are the entry's. The reader checks
every disclosed record against its commitment on chain when it scores (``commitment_mismatch``).

Erasure (``follow_erasures``): the node follows its committed blocks and, on each
``SubjectErased`` event, destroys the subject's key and records in its credit store; the last
block handled is kept in the store, in the same transaction, so the follower resumes there after
a crash or restart.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from jinqiao.apps.credit.model import (
    CREDIT,
    Access,
    Consent,
    Subject,
    access_key,
    consent_key,
    subject_key,
)
from jinqiao.apps.credit.scoring import Disclosure
from jinqiao.core.codec import decode, decode_stored, encode
from jinqiao.core.errors import InvalidInput, NodeFault
from jinqiao.core.types import CommittedBlock, ReceiptStatus
from jinqiao.credit.store import CreditStore
from jinqiao.execution.state import full_key
from jinqiao.node.private_data import LOCAL_ONLY_PARAMETER, PrivateDataSources

log = logging.getLogger(__name__)

RECORDS_ACCESS = "records"
MAX_DISCLOSURES = 10_000
"""Records one source may disclose in one answer (a subject has at most as many on chain)."""
MAX_DISCLOSURE_BYTES = 4096
MAX_ACCESS_SEQUENCE = 2**63 - 1
SUBJECT_HEX_DIGITS = 64


class CreditRecordsErased(InvalidInput):
    """The subject is erased: this node's credit store destroyed its key and records."""

    code = "credit_records_erased"


def disclosure_route(subject: bytes, access_sequence: int) -> str:
    return f"/v1/credit/subjects/{subject.hex()}/disclosures/{access_sequence}"


@dataclass(frozen=True)
class Entitlement:
    """What the committed state says about a disclosure request: ``access`` when it is allowed,
    ``erased`` when the subject is erased (nothing of it is disclosed, by anyone), else
    ``reason`` says why it is refused."""

    access: Access | None = None
    erased: bool = False
    reason: str = ""


def disclosure_entitlement(
    get: Callable[[bytes], bytes | None],
    subject: bytes,
    access_sequence: int,
    organization: str,
    time_ms: int,
) -> Entitlement:
    """May ``organization`` be disclosed the records of the subject's access entry
    ``access_sequence``, at a head whose block time is ``time_ms``? Read through ``get`` (a full
    state key to its committed value)."""
    stored = get(full_key(CREDIT, subject_key(subject)))
    if stored is None:
        return Entitlement(reason="the chain knows no such subject")
    file = decode_stored(stored, Subject)
    if file.erasure is not None:
        return Entitlement(erased=True)
    if not 0 <= access_sequence < file.accesses:
        return Entitlement(reason=f"the subject has no access entry {access_sequence}")
    stored_access = get(full_key(CREDIT, access_key(subject, access_sequence)))
    if stored_access is None:
        return Entitlement(reason=f"the subject has no access entry {access_sequence}")
    access = decode_stored(stored_access, Access)
    if access.kind != RECORDS_ACCESS or access.reader != organization:
        return Entitlement(
            reason=f"access entry {access_sequence} is not a read of records by {organization}"
        )
    stored_consent = get(full_key(CREDIT, consent_key(subject, access.consent_id)))
    if stored_consent is None:
        return Entitlement(reason=f"consent {access.consent_id} is not on chain")
    consent = decode_stored(stored_consent, Consent)
    if consent.grantee != organization or consent.purpose != access.purpose:
        return Entitlement(reason=f"consent {consent.consent_id} does not cover this read")
    if consent.revoked_height:
        return Entitlement(reason=f"consent {consent.consent_id} was revoked")
    if time_ms >= consent.expires_time_ms:
        return Entitlement(reason=f"consent {consent.consent_id} has expired")
    if not set(access.categories) <= set(consent.categories):
        return Entitlement(reason=f"consent {consent.consent_id} does not cover the categories")
    return Entitlement(access=access)


def access_categories(
    get: Callable[[bytes], bytes | None], subject: bytes, access_sequence: int
) -> tuple[str, ...] | None:
    """The categories of the subject's access entry (empty when there is none), or ``None``
    when the subject is erased."""
    stored = get(full_key(CREDIT, subject_key(subject)))
    if stored is not None and decode_stored(stored, Subject).erasure is not None:
        return None
    if not 0 <= access_sequence <= MAX_ACCESS_SEQUENCE:
        return ()
    stored_access = get(full_key(CREDIT, access_key(subject, access_sequence)))
    return () if stored_access is None else decode_stored(stored_access, Access).categories


def disclosures_json(found: list[Disclosure]) -> list[str]:
    return [encode(disclosure).hex() for disclosure in found]


def disclosures_from_json(values: Any) -> list[Disclosure]:
    """The disclosures of an answer (each canonical, hex); ``InvalidInput`` for a malformed one."""
    if not isinstance(values, list) or len(values) > MAX_DISCLOSURES:
        raise InvalidInput("disclosures must be a list", code="invalid_disclosure")
    found = []
    for value in values:
        try:
            found.append(
                decode(bytes.fromhex(str(value)), Disclosure, max_bytes=MAX_DISCLOSURE_BYTES)
            )
        except (ValueError, InvalidInput):
            raise InvalidInput("a disclosure is malformed", code="invalid_disclosure") from None
    return found


@dataclass(frozen=True)
class SourceDisclosures:
    """What one source answered: ``status`` is ``ok``, ``malformed``, ``unreachable`` or the
    HTTP status with its error code (``403 forbidden``)."""

    source: str
    status: str
    disclosures: tuple[Disclosure, ...] = ()


def gather(
    sources: PrivateDataSources, subject: bytes, access_sequence: int
) -> list[SourceDisclosures]:
    """Ask every source for the records it discloses under the access entry (from its own store
    only), with this node's certificate as client certificate."""
    answers = []
    route = disclosure_route(subject, access_sequence)
    http = sources.http()
    for source in sources.sources:
        answers.append(_ask(http, source, route))
    return answers


def _ask(http: httpx.Client, source: str, route: str) -> SourceDisclosures:
    try:
        answer = http.get(f"{source}{route}", params={LOCAL_ONLY_PARAMETER: "true"})
    except httpx.HTTPError as exc:
        log.warning("credit disclosure source %s unreachable: %s", source, exc)
        return SourceDisclosures(source, "unreachable")
    if answer.status_code != 200:
        code = ""
        with contextlib.suppress(ValueError):
            code = str(answer.json().get("code", ""))
        return SourceDisclosures(source, f"{answer.status_code} {code}".strip())
    try:
        found = disclosures_from_json(answer.json().get("disclosures"))
    except (ValueError, AttributeError, InvalidInput):
        log.warning("credit disclosure source %s answered a malformed body", source)
        return SourceDisclosures(source, "malformed")
    return SourceDisclosures(source, "ok", tuple(found))


ERASED_EVENT = "SubjectErased"
FOLLOW_WAIT_S = 1.0
"""How long the erasure follower waits for the next block before looking at the head again."""


def erased_subjects(committed: CommittedBlock) -> list[bytes]:
    """The subjects a committed block erased: the ``SubjectErased`` events of its accepted
    transactions."""
    erased: list[bytes] = []
    for receipt in committed.receipts:
        if receipt.status != ReceiptStatus.OK:
            continue
        for event in receipt.events:
            if event.contract != CREDIT or event.name != ERASED_EVENT:
                continue
            subject = event.attribute("subject")  # hex, as every byte attribute of an event
            if not isinstance(subject, str) or len(subject) != SUBJECT_HEX_DIGITS:
                raise NodeFault("a SubjectErased event without a subject hash", subject=subject)
            erased.append(bytes.fromhex(subject))
    return erased


def follow_erasures(
    store: CreditStore, chain_id: str, head: int, block_at: Callable[[int], CommittedBlock | None]
) -> int:
    """Erase from ``store`` every subject erased in the committed blocks after the last one it
    handled, up to ``head``, block by block (each block's erasures and its height in one store
    transaction: after a crash the follower resumes at the first block not handled); the height
    handled last."""
    height = store.followed_height(chain_id)
    while height < head:
        committed = block_at(height + 1)
        if committed is None:
            raise NodeFault("a committed block is missing from the store", height=height + 1)
        subjects = erased_subjects(committed)
        destroyed = store.erase_committed(chain_id, height + 1, subjects)
        if subjects:
            log.info(
                "credit store: erased %d subjects (%d records) of block %d",
                len(subjects),
                destroyed,
                height + 1,
            )
        height += 1
    return height
