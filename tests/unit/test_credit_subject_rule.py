"""Who may read a credit subject (the ``subject`` rule of ``api.access``, docs/access.md): the
institutions that know it (custodians and submitters, the file's ``known_by``), the grantees of
its consents live at the head, and the regulator; a subject the chain does not know: any credit
member; an erased subject: the institutions that knew it. The policy and the access layer under
test are the real ones; the node in front of them is a neighbour holding a committed state (a
dict of encoded values), its head's block time and a genesis of five organizations."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.routing import Route

from jinqiao.api.access import (
    QUERY_RULES,
    RULES,
    SUBJECT,
    AccessControl,
    Policy,
    subject_readers,
)
from jinqiao.api.authentication import CLIENT_CERTIFICATE_KEY, Identity
from jinqiao.apps.credit.model import (
    CREDIT,
    Consent,
    Erasure,
    Subject,
    access_key,
    consent_key,
    record_key,
    score_key,
    subject_key,
)
from jinqiao.core.codec import encode
from jinqiao.execution.state import full_key

WHO = bytes(range(32))
OTHER = bytes(range(1, 33))
NOW_MS = 1_800_000_000_000
ROLES = {
    "bank-a": ("credit_member",),  # the custodian
    "bank-b": ("credit_member",),  # a submitter
    "ecfin": ("credit_member",),  # the grantee
    "lender-x": ("credit_member",),  # a credit member that knows nothing of the subject
    "clearing": ("clearing_house",),  # no credit role
    "regulator": ("regulator",),
}
SUBJECT_ROUTES = [path for (method, path), rule in RULES.items() if rule.kind == SUBJECT]


def _consent(consent_id: int, grantee: str, *, expires: int, revoked: int = 0) -> Consent:
    return Consent(
        consent_id, "bank-a", grantee, "loan_approval", ("loans",), 5, NOW_MS - 10, expires, revoked
    )


def _state(*consents: Consent, erased: bool = False) -> dict[bytes, bytes]:
    erasure = Erasure("bank-a", 9, NOW_MS - 1) if erased else None
    file = Subject(WHO, len(consents), 1, 0, 0, ("bank-a", "bank-b"), erasure)
    state = {full_key(CREDIT, subject_key(WHO)): encode(file)}
    if not erased:  # erasure deletes the consents
        for consent in consents:
            state[full_key(CREDIT, consent_key(WHO, consent.consent_id))] = encode(consent)
    return state


@dataclass
class _Node:
    """The neighbour of ``Policy``: a node's committed state at a head of block time
    ``time_ms``, its genesis and its audit trail."""

    values: dict[bytes, bytes]
    time_ms: int = NOW_MS
    audited: list[int] = field(default_factory=list)
    genesis: Any = None
    suite: Any = None

    def __post_init__(self) -> None:
        organizations = [_Organization(name, roles) for name, roles in ROLES.items()]
        self.genesis = _Genesis(organizations)
        self.suite = _Suite()

    @contextlib.contextmanager
    def reading(self) -> Iterator[_Node]:
        yield self

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def record_audit(self, **record: Any) -> None:
        self.audited.append(int(record["status"]))


@dataclass(frozen=True)
class _Organization:
    id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class _Genesis:
    organizations: list[_Organization]


@dataclass(frozen=True)
class _Suite:
    name: str = "sm2-sm3"  # no account signatures: certificates only


def _identity(organization: str) -> Identity:
    return Identity(f"{organization}-credit", organization, frozenset(ROLES[organization]))


def _readers(state: dict[bytes, bytes], subject: bytes = WHO) -> set[str]:
    """The organizations the policy lets read every subject route, query and raw state key."""
    policy = Policy(_Node(state), "clearing")  # type: ignore[arg-type]
    allowed = set()
    for organization in ROLES:
        identity = _identity(organization)
        verdicts = {
            policy.allows(RULES[("GET", path)], identity, {"subject": subject.hex()})
            for path in SUBJECT_ROUTES
        }
        verdicts |= {
            policy.allows(rule, identity, {"subject": subject.hex()})
            for (contract, _), rule in QUERY_RULES.items()
            if contract == CREDIT and rule.kind == SUBJECT
        }
        for key in (
            subject_key(subject),
            consent_key(subject, 0),
            record_key(subject, 0),
            access_key(subject, 0),
            score_key(subject, 0),
        ):
            parameters = {"contract": CREDIT, "key": key.hex()}
            verdicts.add(
                policy.allows(RULES[("GET", "/v1/state/{contract}/{key}")], identity, parameters)
            )
        assert len(verdicts) == 1, (organization, verdicts)  # one answer for every way in
        if verdicts.pop():
            allowed.add(organization)
    return allowed


def test_every_subject_route_and_query_follows_the_rule() -> None:
    assert len(SUBJECT_ROUTES) == 6
    names = {name for (contract, name), rule in QUERY_RULES.items() if rule.kind == SUBJECT}
    assert names == {"subject", "consent", "record", "score", "records", "access_log"}


def test_the_institutions_that_know_the_subject_and_the_regulator_read_it() -> None:
    assert _readers(_state()) == {"bank-a", "bank-b", "regulator"}


def test_the_grantee_of_a_live_consent_reads_it() -> None:
    live = _consent(0, "ecfin", expires=NOW_MS + 1)
    assert _readers(_state(live)) == {"bank-a", "bank-b", "ecfin", "regulator"}


def test_a_revoked_consent_gives_its_grantee_nothing() -> None:
    revoked = _consent(0, "ecfin", expires=NOW_MS + 1, revoked=7)
    assert _readers(_state(revoked)) == {"bank-a", "bank-b", "regulator"}


def test_a_consent_expired_at_the_heads_block_time_gives_its_grantee_nothing() -> None:
    expired = _consent(0, "ecfin", expires=NOW_MS)  # expiry is exclusive
    assert _readers(_state(expired)) == {"bank-a", "bank-b", "regulator"}
    # another live consent of the same grantee still counts
    live = _consent(1, "ecfin", expires=NOW_MS + 1)
    assert _readers(_state(expired, live)) == {"bank-a", "bank-b", "ecfin", "regulator"}


def test_a_subject_the_chain_does_not_know_is_any_credit_members_absence() -> None:
    assert _readers(_state(), subject=OTHER) == {
        "bank-a",
        "bank-b",
        "ecfin",
        "lender-x",
        "regulator",
    }


def test_an_erased_subject_keeps_the_institutions_that_knew_it() -> None:
    live = _consent(0, "ecfin", expires=NOW_MS + 1)
    assert _readers(_state(live, erased=True)) == {"bank-a", "bank-b", "regulator"}


def test_the_rule_itself_over_a_file_and_its_consents() -> None:
    file = Subject(WHO, 3, 0, 0, 0, ("bank-a",), None)
    consents = [
        _consent(0, "ecfin", expires=NOW_MS + 1),
        _consent(1, "bank-b", expires=NOW_MS - 1),
        _consent(2, "lender-x", expires=NOW_MS + 1, revoked=3),
    ]
    assert subject_readers(file, consents, NOW_MS) == {"bank-a", "ecfin"}


def test_a_stranger_is_refused_403_forbidden_by_the_access_layer() -> None:
    """Through ``AccessControl``: a credit member that is neither custodian, submitter nor
    grantee gets the common error body ``forbidden`` on each subject route (and the refusal is
    audited); the grantee reaches the route."""
    node = _Node(_state(_consent(0, "ecfin", expires=NOW_MS + 1)))
    policy = Policy(node, "clearing")  # type: ignore[arg-type]
    routes = [Route(path, _reached) for path in SUBJECT_ROUTES]
    routes.append(Route("/v1/state/{contract}/{key}", _reached))
    access = AccessControl(_reached, routes, policy, _Authenticator())
    paths = [path.format(subject=WHO.hex(), consent_id=0, sequence=0) for path in SUBJECT_ROUTES]
    paths.append(f"/v1/state/{CREDIT}/{consent_key(WHO, 0).hex()}")
    for path in paths:
        refused = _get(access, path, "lender-x")
        assert refused.status_code == 403, path
        body = refused.json()
        assert body["code"] == "forbidden" and "lender-x-credit" in body["message"], body
        assert _get(access, path, "ecfin").status_code == 204, path
    assert node.audited.count(403) == len(paths)


class _Authenticator:
    """The neighbour that verifies certificates: here the "certificate" is the organization."""

    def identify(self, der: bytes) -> Identity:
        return _identity(der.decode())


async def _reached(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _get(access: AccessControl, path: str, organization: str) -> httpx.Response:
    async def with_certificate(scope: Any, receive: Any, send: Any) -> None:
        scope[CLIENT_CERTIFICATE_KEY] = organization.encode()
        await access(scope, receive, send)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=with_certificate)
        async with httpx.AsyncClient(transport=transport, base_url="https://node") as client:
            return await client.get(path)

    return asyncio.run(send())
