"""Who may call what: the one place the API decides (docs/access.md shows ``RULES`` as a table).

``RULES`` maps every route of the app (method, path template) to a ``Rule``; ``AccessControl``,
an ASGI middleware around the whole app, evaluates it for every request before any route runs:

1. a ``public`` route (``/healthz``, ``/v1/genesis``) is served to anybody;
2. otherwise the caller must be authenticated: by a client certificate (``api.authentication``)
   or, without one, by an RFC 9421 request signature made with an account key
   (``api.signatures``); neither is 401 ``unauthenticated``, a refused certificate 401
   ``certificate_refused``, a refused signature 401 ``signature_refused``;
3. an authenticated caller over its rate limit (``api.ratelimit``, a token bucket per identity)
   gets 429 ``rate_limited`` with ``Retry-After``: a caller with a client certificate is metered
   first of all, before the request is routed or its body read, since a flood is mostly
   refusals and each must cost the node as little as it can; a signed request once its signature
   is checked;
4. the rule decides: 403 ``forbidden`` when it says no;
5. every authenticated request and every refusal is recorded in the node's audit trail
   (docs/audit.md) with the identity, before the answer leaves.

A contract query (``POST /v1/query/{contract}/{query_name}``) names what it reads in its body, not
in its path: for the queries in ``QUERY_RULES`` (those whose arguments name an account, an
institution, a payment, a receivable or a credit subject) the layer reads the body (at most
``MAX_QUERY_BODY_BYTES``), takes the rule's parameters from the argument fields and decides as
for the matching ``GET`` route, then hands the same body on to the app. Arguments it cannot read
(not a JSON object, a field missing or not a string, an address not hex) go on to the app, which
answers 400 without running the query. Any other query is ``member``.

A route without a rule is a fault of the program: ``AccessControl`` refuses to start with one
(``missing_rules``), and a test walks the OpenAPI document with every role. A path that matches no
route is treated as ``member`` (the caller must be authenticated to learn that it is a 404).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match, Route

from jinqiao.api.authentication import (
    CLIENT_CERTIFICATE_KEY,
    IDENTITY_KEY,
    Authenticator,
    CertificateRefused,
    Identity,
    roots_from_genesis,
)
from jinqiao.api.errors import EncodedError, encode_error, send_encoded, send_error
from jinqiao.api.ratelimit import RateLimiter
from jinqiao.api.signatures import SignatureAuthenticator, SignatureRefused, has_signature
from jinqiao.api.state import MAX_QUERY_BODY_BYTES
from jinqiao.apps.credit.model import CREDIT, Consent, Subject, consent_key, subject_key
from jinqiao.apps.payments.model import PAYMENTS, Payment, payment_key
from jinqiao.apps.supplychain.model import SUPPLYCHAIN, document_key, past_due_count_key
from jinqiao.apps.token import BALANCE_PREFIX, TOKEN
from jinqiao.core.codec import decode_stored
from jinqiao.core.crypto import Ed25519Sha256
from jinqiao.core.errors import NodeFault
from jinqiao.core.limits import MAX_REQUEST_BODY_BYTES
from jinqiao.execution.identity import ACCOUNT_PREFIX, REGISTRY, Account, account_key
from jinqiao.execution.state import full_key
from jinqiao.node.credit_disclosure import SUBJECT_HEX_DIGITS, disclosure_entitlement
from jinqiao.node.port import NodePort
from jinqiao.node.private_data import document_parties, receivable_parties, root_parties

log = logging.getLogger(__name__)

PUBLIC = "public"
"""Anybody, without a certificate."""
OPERATOR = "operator"
"""The organization that runs this node (any identity it issued), and the regulator."""
MEMBER = "member"
"""Any authenticated identity of a member organization."""
PARTY = "party"
"""The organizations named by the route's ``parameters`` (each an organization id), those whose
genesis roles include one of ``roles``, and the regulator."""
ACCOUNT = "account"
"""The organization the account at the ``address`` parameter (or at any of ``parameters``)
belongs to, and the regulator; an address that is no account: the regulator only."""
QUERY = "query"
"""A contract query: the rule ``QUERY_RULES`` gives the query, its parameters taken from the
query's arguments; a query not there: ``member``."""
STATE = "state"
"""A raw state read: a key that names an account (a token holding, a registry account record)
follows ``account`` for that address; any other key ``member``."""
ROLE = "role"
PAYMENT = "payment"
"""A payment record (``{payment_id}``): its issuer and acquirer (from the committed state), the
organizations with the listed roles (the clearing house and settlement agent), and the regulator;
a payment id that is not recorded: any member (the answer is a 404 that tells nothing else)."""
RECEIVABLE = "receivable"
"""A supply-chain receivable record — a part (``{receivable_id}``), a root (``{root_id}``) or the
use of a trade document (``{document_hash}``): the parties of its root receivable
(``node.private_data.root_parties``) and the regulator; a record that does not exist: any member
(a funder checks that an invoice backs nothing yet)."""
DOCUMENT = "document"
"""A private document (``{document_hash}``): the parties of the receivable it backs, as the
committed state says (``node.private_data.document_parties``: the obligor, and the holder,
pledgee and offered funder of each live part), and the regulator; a document the chain does not
record: the regulator only."""
"""Organizations whose genesis roles include one of ``roles``, and the regulator."""
SUBJECT = "subject"
"""A credit subject (``{subject}``: its file, consents, record commitments, access log, scores):
the institutions that know it (custodians and submitters, ``known_by``), the grantees of its
consents live at the head (``subject_readers``, from the committed state), and the regulator; a
subject the chain does not know: any credit member (the answer is its proven absence)."""
DISCLOSURE = "disclosure"
"""Credit records disclosed under the subject's access entry ``{sequence}``
(``node.credit_disclosure.disclosure_entitlement``): only the reader the committed ``records``
entry names, while the consent it names is live at the head — **not** the regulator (personal
data); an erased subject: any member (the route answers ``410 credit_records_erased``)."""
REGULATOR_ROLE = "regulator"
"""The genesis role of the regulator's organization (``provision.presets``): it reads everything."""
MAX_CACHED_IDENTITIES = 1_024
MAX_SIGNED_BODY_BYTES = 2 * MAX_REQUEST_BODY_BYTES
"""A signed request's body is read whole to check its ``Content-Digest``: as large as the largest
route limit (a reconciliation upload, 32 MiB)."""


@dataclass(frozen=True)
class Rule:
    kind: str
    parameters: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @property
    def account_parameters(self) -> tuple[str, ...]:
        """The parameters an ``account`` rule reads an address from (default ``address``)."""
        return self.parameters or ("address",)

    def describe(self) -> str:
        """The rule in words, as docs/access.md shows it."""
        if self.kind == PARTY:
            named = " or ".join(f"`{{{parameter}}}`" for parameter in self.parameters)
            extra = "".join(f", {role}" for role in self.roles)
            return f"party: the organization {named}{extra}, regulator"
        if self.kind == ROLE:
            return "role: " + ", ".join(self.roles) + ", regulator"
        extra = "".join(f", {role}" for role in self.roles)
        if self.kind == ACCOUNT:
            named = " or ".join(f"`{{{parameter}}}`" for parameter in self.account_parameters)
            return f"account: the organization of {named}{extra}, regulator"
        if self.kind == PAYMENT:
            return f"payment: the issuer and acquirer of `{{payment_id}}`{extra}, regulator"
        if self.kind == RECEIVABLE:
            named = " or ".join(f"`{{{parameter}}}`" for parameter in self.parameters)
            return f"receivable: the parties of the receivable of {named}, regulator"
        if self.kind == DOCUMENT:
            return (
                "document: the parties of the receivable `{document_hash}` backs (obligor; "
                "holder, pledgee, offered funder of a live part), regulator"
            )
        if self.kind == SUBJECT:
            return (
                "subject: the custodians and submitters of `{subject}`, the grantees of its live "
                "consents, regulator; a subject not on chain any credit_member"
            )
        if self.kind == DISCLOSURE:
            return (
                "disclosure: the reader of the committed `records` access entry `{sequence}` "
                "while its consent is live (not the regulator); an erased subject any member"
            )
        if self.kind == QUERY:
            return "query: the rule of the query's arguments (table below); any other query member"
        if self.kind == STATE:
            return (
                f"state: a key naming an account (token holding, registry account) as "
                f"account{extra}, regulator; a payment as payment; a receivable, root or "
                f"document use as receivable; an organization's past-due list as party; a "
                f"credit subject's file, consent, record, access or score as subject; any "
                f"other key member"
            )
        return {
            PUBLIC: "public",
            OPERATOR: "operator: this node's organization, regulator",
            MEMBER: "member: any authenticated member",
        }[self.kind]


_PUBLIC = Rule(PUBLIC)
_OPERATOR = Rule(OPERATOR)
_MEMBER = Rule(MEMBER)
_ACCOUNT = Rule(ACCOUNT)
_ISSUER = ("currency_issuer",)
"""The digital-currency operator sees every holding of the currency it issues."""
_CLEARING = ("clearing_house", "settlement_agent")
_INSTITUTION = Rule(PARTY, ("institution",), _CLEARING)
_CLEARING_ONLY = Rule(ROLE, roles=_CLEARING)
_CREDIT_ROLE = ("credit_member",)
_CREDIT_SUBJECT = Rule(SUBJECT, ("subject",))
_DOCUMENT = Rule(DOCUMENT)
_PAYMENT = Rule(PAYMENT, ("payment_id",), _CLEARING)
_RECEIVABLE = Rule(RECEIVABLE, ("receivable_id",))
_ROOT = Rule(RECEIVABLE, ("root_id",))
_DOCUMENT_USE = Rule(RECEIVABLE, ("document_hash",))
_PAST_DUE = Rule(PARTY, ("organization",))
"""An organization's past-due receivables (the report, and its list entries in raw state)."""

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): _PUBLIC,
    ("GET", "/v1/genesis"): _PUBLIC,
    ("GET", "/metrics"): _OPERATOR,
    ("GET", "/openapi.json"): _MEMBER,
    ("GET", "/docs"): _MEMBER,
    ("GET", "/docs/oauth2-redirect"): _MEMBER,
    ("GET", "/redoc"): _MEMBER,
    ("GET", "/docs/static/{name}"): _MEMBER,
    ("GET", "/v1/status"): _MEMBER,
    ("GET", "/v1/validators/changes"): _MEMBER,
    ("GET", "/v1/consensus"): _MEMBER,
    ("GET", "/v1/blocks/latest"): _MEMBER,
    ("GET", "/v1/blocks/{height}"): _MEMBER,
    ("GET", "/v1/blocks/by-hash/{block_hash}"): _MEMBER,
    ("POST", "/v1/transactions"): _MEMBER,
    ("POST", "/v1/transactions/batch"): _MEMBER,
    ("GET", "/v1/transactions/{transaction_hash}"): _MEMBER,
    ("GET", "/v1/state/{contract}/{key}"): Rule(STATE, roles=_ISSUER),
    ("GET", "/v1/accounts/{address}"): _ACCOUNT,
    ("GET", "/v1/token/{asset}/balances/{address}"): Rule(ACCOUNT, roles=_ISSUER),
    ("GET", "/v1/token/{asset}"): _MEMBER,
    ("POST", "/v1/query/{contract}/{query_name}"): Rule(QUERY),
    ("GET", "/v1/payments/institutions/{institution}"): _MEMBER,
    ("GET", "/v1/payments/payments/{payment_id}"): _PAYMENT,
    ("GET", "/v1/payments/cycles/{cycle_id}"): _MEMBER,
    ("GET", "/v1/payments/cycles/{cycle_id}/totals"): _MEMBER,
    ("GET", "/v1/payments/cycles/{cycle_id}/positions/{institution}"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/institutions/{institution}"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/flows/{issuer}/{acquirer}"): Rule(
        PARTY, ("issuer", "acquirer"), _CLEARING
    ),
    ("GET", "/v1/payments/cycles/{cycle_id}/entries/{institution}/{sequence}"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/figures"): _CLEARING_ONLY,
    ("GET", "/v1/payments/cycles/{cycle_id}/statements/{institution}"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/statements/{institution}/proven"): _INSTITUTION,
    ("POST", "/v1/payments/cycles/{cycle_id}/reconciliation/{institution}"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/settlement"): _CLEARING_ONLY,
    ("GET", "/v1/payments/cycles/{cycle_id}/settlement/proven"): _CLEARING_ONLY,
    ("GET", "/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}/proven"): _INSTITUTION,
    ("GET", "/v1/payments/cycles/{cycle_id}/chart.png"): _CLEARING_ONLY,
    ("GET", "/v1/events"): _MEMBER,
    ("GET", "/v1/supplychain/items"): _MEMBER,
    ("GET", "/v1/supplychain/history"): _MEMBER,
    ("GET", "/v1/epcis/events"): _MEMBER,
    ("POST", "/v1/epcis/capture"): _OPERATOR,
    ("GET", "/v1/epcis/capture/{capture_id}"): _OPERATOR,
    ("GET", "/v1/supplychain/events/{event_hash}"): _MEMBER,
    ("GET", "/v1/supplychain/recalls"): _MEMBER,
    ("GET", "/v1/supplychain/company-prefixes/{prefix}"): _MEMBER,
    ("GET", "/v1/supplychain/receivables/{receivable_id}"): _RECEIVABLE,
    ("GET", "/v1/supplychain/roots/{root_id}"): _ROOT,
    ("GET", "/v1/supplychain/documents/{document_hash}"): _DOCUMENT_USE,
    ("GET", "/v1/supplychain/past-due/{organization}"): _PAST_DUE,
    ("GET", "/v1/verify"): _MEMBER,
    ("GET", "/v1/credit/subjects/{subject}"): _CREDIT_SUBJECT,
    ("GET", "/v1/credit/subjects/{subject}/consents/{consent_id}"): _CREDIT_SUBJECT,
    ("GET", "/v1/credit/subjects/{subject}/records"): _CREDIT_SUBJECT,
    ("GET", "/v1/credit/subjects/{subject}/records/{sequence}"): _CREDIT_SUBJECT,
    ("GET", "/v1/credit/subjects/{subject}/access-log"): _CREDIT_SUBJECT,
    ("GET", "/v1/credit/subjects/{subject}/scores/{sequence}"): _CREDIT_SUBJECT,
    ("GET", "/v1/credit/subjects/{subject}/disclosures/{sequence}"): Rule(DISCLOSURE),
    ("GET", "/v1/credit/models/{model_id}/{version}"): _MEMBER,
    ("GET", "/v1/credit/policies/{organization}/{policy_id}"): Rule(PARTY, ("organization",)),
    ("GET", "/explorer"): _MEMBER,
    ("GET", "/explorer/static/{name}"): _MEMBER,
    ("GET", "/v1/private/documents/{document_hash}"): _DOCUMENT,
    ("PUT", "/v1/private/documents/{document_hash}"): _DOCUMENT,
    ("DELETE", "/v1/private/documents/{document_hash}"): _OPERATOR,
}

PUBLIC_PATHS = frozenset(
    path for (_, path), rule in RULES.items() if rule.kind == PUBLIC and "{" not in path
)
"""The paths of the public routes, known without routing a request (none has parameters)."""

QUERY_ROUTE = "/v1/query/{contract}/{query_name}"
_CREDIT_SUBJECT_QUERIES = ("subject", "consent", "record", "score", "records", "access_log")
QUERY_RULES: dict[tuple[str, str], Rule] = {
    # queries naming an account (an address field, hex in the JSON arguments)
    ("registry", "account"): _ACCOUNT,
    ("token", "balance"): Rule(ACCOUNT, roles=_ISSUER),
    ("token", "allowance"): Rule(ACCOUNT, ("owner", "spender"), _ISSUER),
    ("xtransfer", "voucher_balance"): _ACCOUNT,
    # queries naming an institution, as their GET routes
    ("payments", "institution_cycle"): _INSTITUTION,
    ("payments", "entries"): _INSTITUTION,
    ("payments", "position"): _INSTITUTION,
    ("payments", "collateral"): _INSTITUTION,
    ("payments", "flow"): Rule(PARTY, ("issuer", "acquirer"), _CLEARING),
    # a payment by id, as its GET route; every institution's position: the clearing house's
    ("payments", "payment"): _PAYMENT,
    ("payments", "refund_record"): _PAYMENT,
    ("payments", "positions"): _CLEARING_ONLY,
    # supply-chain receivables, as their GET routes
    ("supplychain", "receivable"): _RECEIVABLE,
    ("supplychain", "root"): _ROOT,
    ("supplychain", "document"): _DOCUMENT_USE,
    # credit subjects and policies, as their GET routes
    **{("credit", name): _CREDIT_SUBJECT for name in _CREDIT_SUBJECT_QUERIES},
    ("credit", "policy"): Rule(PARTY, ("organization",)),
}
"""The queries whose arguments say whose business they read. ``evidence.offences`` names a
validator (public: the validator set is) and is ``member`` like every query not listed."""


def query_parameters(rule: Rule, body: bytes) -> dict[str, str] | None:
    """The rule's parameters from a query's JSON arguments; None when the app would refuse them
    anyway (not a JSON object, a parameter missing or not a string, an address not hex)."""
    try:
        arguments = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return None
    if not isinstance(arguments, dict):
        return None
    names = rule.account_parameters if rule.kind == ACCOUNT else rule.parameters
    picked = {name: arguments.get(name) for name in names}
    values: dict[str, str] = {}
    for name, value in picked.items():
        if rule.kind == RECEIVABLE and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a receivable or root id
        if not isinstance(value, str):
            return None
        if rule.kind == ACCOUNT:
            try:
                bytes.fromhex(value)
            except ValueError:
                return None
        values[name] = value
    return values


class Policy:
    """``RULES`` over one network: the organizations' genesis roles, this node's organization,
    and account lookups in the node's committed state."""

    def __init__(self, node: NodePort, node_organization: str) -> None:
        self.node = node
        self.node_organization = node_organization
        self.roles_by_organization: dict[str, frozenset[str]] = {
            organization.id: frozenset(organization.roles)
            for organization in node.genesis.organizations
        }

    def is_regulator(self, identity: Identity) -> bool:
        return REGULATOR_ROLE in self.roles_by_organization.get(identity.organization, ())

    def allows(self, rule: Rule, identity: Identity, parameters: Mapping[str, Any]) -> bool:
        if rule.kind == DISCLOSURE:
            return self.disclosure_allowed(identity.organization, parameters)
        if rule.kind in (PUBLIC, MEMBER) or self.is_regulator(identity):
            return True
        organization = identity.organization
        roles = self.roles_by_organization.get(organization, frozenset())
        if rule.kind == OPERATOR:
            return organization == self.node_organization
        if rule.kind == STATE:
            return self.allows_state_key(
                rule, identity, str(parameters.get("contract", "")), str(parameters.get("key", ""))
            )
        if rule.roles and not roles.isdisjoint(rule.roles):
            return True
        if rule.kind == PARTY:
            return any(parameters.get(name) == organization for name in rule.parameters)
        if rule.kind == ACCOUNT:
            return any(
                self.account_organization(str(parameters.get(name, ""))) == organization
                for name in rule.account_parameters
            )
        if rule.kind == PAYMENT:
            parties = self.payment_parties(str(parameters.get("payment_id", "")))
            return parties is None or organization in parties
        if rule.kind == RECEIVABLE:
            parties = self.receivable_parties(rule, parameters)
            return not parties or organization in parties
        if rule.kind == DOCUMENT:
            return organization in self.document_parties(str(parameters.get("document_hash", "")))
        if rule.kind == SUBJECT:
            readers = self.subject_readers(str(parameters.get("subject", "")))
            return (
                organization in readers
                if readers is not None
                else bool(roles.intersection(_CREDIT_ROLE))
            )
        return False

    def allows_state_key(self, rule: Rule, identity: Identity, contract: str, key_hex: str) -> bool:
        """A raw state key that names one account follows the account rule (with the ``state``
        rule's roles: the currency issuer), one payment or receivable record that record's rule;
        any other key is member."""
        address = account_in_state_key(contract, key_hex)
        if address is not None:
            roles = self.roles_by_organization.get(identity.organization, frozenset())
            if not roles.isdisjoint(rule.roles):
                return True
            return self.account_organization(address) == identity.organization
        record = record_in_state_key(contract, key_hex)
        if record is None:
            return True
        rule, parameters = record
        return self.allows(rule, identity, parameters)

    def subject_readers(self, subject_hex: str) -> frozenset[str] | None:
        """Who may read a credit subject, besides the regulator, from the committed state at the
        head (``subject_readers``); ``None``: no such subject on chain, or not a subject hash
        (which the route itself refuses)."""
        subject = subject_in(subject_hex)
        if subject is None:
            return None
        with self.node.reading() as reading:
            stored = reading.get(full_key(CREDIT, subject_key(subject)))
            if stored is None:
                return None
            file = decode_stored(stored, Subject)
            consents = []
            for consent_id in range(file.consents):
                stored_consent = reading.get(full_key(CREDIT, consent_key(subject, consent_id)))
                if stored_consent is not None:  # none once erased
                    consents.append(decode_stored(stored_consent, Consent))
            return subject_readers(file, consents, reading.time_ms)

    def disclosure_allowed(self, organization: str, parameters: Mapping[str, Any]) -> bool:
        """Whether the committed state entitles ``organization`` to the records of the subject's
        access entry (a malformed subject or sequence: no; the route would refuse it)."""
        subject_hex = str(parameters.get("subject", ""))
        sequence = str(parameters.get("sequence", ""))
        subject = subject_in(subject_hex)
        if subject is None or not sequence.isdigit():
            return False
        with self.node.reading() as reading:
            entitled = disclosure_entitlement(
                reading.get, subject, int(sequence), organization, reading.time_ms
            )
        if entitled.access is None and not entitled.erased:
            log.info("credit disclosure refused to %s: %s", organization, entitled.reason)
        return entitled.access is not None or entitled.erased

    def payment_parties(self, payment_id: str) -> frozenset[str] | None:
        """The issuer and acquirer of a recorded payment; None when there is no such payment."""
        with self.node.reading() as reading:
            stored = reading.get(full_key(PAYMENTS, payment_key(payment_id)))
        if stored is None:
            return None
        authorization = decode_stored(stored, Payment).authorization
        return frozenset({authorization.issuer, authorization.acquirer})

    def receivable_parties(self, rule: Rule, parameters: Mapping[str, Any]) -> frozenset[str]:
        """The parties of the receivable a ``receivable`` rule's parameter names (empty when
        there is none, or the parameter is malformed: the route refuses it)."""
        name = rule.parameters[0]
        value = str(parameters.get(name, ""))
        with self.node.reading() as reading:
            if name == "document_hash":
                try:
                    return document_parties(reading.get, bytes.fromhex(value))
                except ValueError:
                    return frozenset()
            if not value.isdigit() or not 0 < int(value) < 2**64:
                return frozenset()
            if name == "root_id":
                return root_parties(reading.get, int(value))
            return receivable_parties(reading.get, int(value))

    def document_parties(self, document_hash_hex: str) -> frozenset[str]:
        """The organizations entitled to a private document in the committed state (none for a
        hash that is not hex: the route itself refuses it)."""
        try:
            document_hash = bytes.fromhex(document_hash_hex)
        except ValueError:
            return frozenset()
        with self.node.reading() as reading:
            return document_parties(reading.get, document_hash)

    def account_organization(self, address_hex: str) -> str | None:
        """The organization of the account at ``address_hex`` in the committed state, or None
        (not an account, or not an address: the route itself refuses a malformed one)."""
        try:
            address = bytes.fromhex(address_hex)
        except ValueError:
            return None
        account = self.account(address)
        return None if account is None else account.organization

    def account(self, address: bytes) -> Account | None:
        """The account at ``address`` in the committed state, or None."""
        with self.node.reading() as reading:
            stored = reading.get(full_key(REGISTRY, account_key(address)))
        return None if stored is None else decode_stored(stored, Account)


def subject_in(subject_hex: str) -> bytes | None:
    """The subject hash a path or argument names, or None when it is not 64 hex digits."""
    if len(subject_hex) != SUBJECT_HEX_DIGITS:
        return None
    try:
        return bytes.fromhex(subject_hex)
    except ValueError:
        return None


def subject_readers(file: Subject, consents: Iterable[Consent], time_ms: int) -> frozenset[str]:
    """The ``subject`` rule over a subject's committed file and consents, at a head whose block
    time is ``time_ms``: the institutions that know the subject (its custodians and submitters,
    ``known_by``, kept when it is erased) and the grantees of its live consents (not revoked,
    not expired at ``time_ms``). The regulator reads besides them."""
    live = (
        consent.grantee
        for consent in consents
        if not consent.revoked_height and time_ms < consent.expires_time_ms
    )
    return frozenset((*file.known_by, *live))


ADDRESS_BYTES = 20
SUBJECT_BYTES = 32
CREDIT_SUBJECT_PREFIXES = (b"subject/", b"consent/", b"record/", b"access/", b"score/")
PAYMENT_PREFIX = payment_key("")
DOCUMENT_PREFIX = document_key(b"")
PAST_DUE_COUNT_PREFIX = past_due_count_key("")
PAST_DUE_PREFIX = b"past_due/"


def account_in_state_key(contract: str, key_hex: str) -> str | None:
    """The address (hex) a raw state key names, for the keys that belong to one account: a
    token holding (``balance/<asset>/<address>``) and a registry account record
    (``account/<address>``); None for any other key (or one that is not hex: the route refuses
    it)."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        return None
    if contract == TOKEN and key.startswith(BALANCE_PREFIX):
        # <asset>/<20 address bytes>: the address itself may hold a "/" byte, so from the end.
        rest = key[len(BALANCE_PREFIX) :]
        separated = len(rest) > ADDRESS_BYTES + 1 and rest[-ADDRESS_BYTES - 1] == ord("/")
        holder = rest[-ADDRESS_BYTES:] if separated else b""
    elif contract == REGISTRY and key.startswith(ACCOUNT_PREFIX):
        holder = key[len(ACCOUNT_PREFIX) :]
    else:
        return None
    return holder.hex() if len(holder) == ADDRESS_BYTES else None


def record_in_state_key(contract: str, key_hex: str) -> tuple[Rule, dict[str, str]] | None:
    """The rule and parameters of a raw state key that is one payment (``payments``
    ``payment/<id>``), one receivable record (``supplychain`` ``receivable/<id>``,
    ``root/<id>``, ``document/<hash>``), an entry of an organization's past-due list
    (``past_due/<org>/<seq>``, ``past_due_count/<org>``) or a credit subject's (``credit``
    ``subject/``, ``consent/``, ``record/``, ``access/``, ``score/`` + the subject hash); None for
    any other key."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        return None
    if contract == PAYMENTS and key.startswith(PAYMENT_PREFIX):
        try:
            return _PAYMENT, {"payment_id": key[len(PAYMENT_PREFIX) :].decode()}
        except UnicodeDecodeError:
            return None
    if contract == CREDIT:
        for prefix in CREDIT_SUBJECT_PREFIXES:
            if key.startswith(prefix) and len(key) >= len(prefix) + SUBJECT_BYTES:
                return _CREDIT_SUBJECT, {
                    "subject": key[len(prefix) : len(prefix) + SUBJECT_BYTES].hex()
                }
        return None
    if contract != SUPPLYCHAIN:
        return None
    for rule, prefix in ((_RECEIVABLE, b"receivable/"), (_ROOT, b"root/")):
        if key.startswith(prefix) and len(key) == len(prefix) + 8:
            number = int.from_bytes(key[len(prefix) :], "big")
            return rule, {rule.parameters[0]: str(number)}
    if key.startswith(DOCUMENT_PREFIX) and len(key) == len(DOCUMENT_PREFIX) + 32:
        return _DOCUMENT_USE, {"document_hash": key[len(DOCUMENT_PREFIX) :].hex()}
    if key.startswith(PAST_DUE_COUNT_PREFIX):
        return _PAST_DUE, {"organization": _text(key[len(PAST_DUE_COUNT_PREFIX) :])}
    if key.startswith(PAST_DUE_PREFIX) and len(key) > len(PAST_DUE_PREFIX) + 9:
        return _PAST_DUE, {"organization": _text(key[len(PAST_DUE_PREFIX) : -9])}
    return None


def _text(organization: bytes) -> str:
    """An organization id from a key (a byte that is not ASCII names nobody: the regulator
    only)."""
    return organization.decode("ascii", errors="replace")


def missing_rules(routes: Iterable[BaseRoute]) -> list[tuple[str, str]]:
    """The (method, path) of each route of the app that has no rule."""
    missing = []
    for route in routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                if (method, route.path_format) not in RULES:
                    missing.append((method, route.path_format))
    return missing


class AccessControl:
    """The ASGI middleware that applies ``RULES`` to every request (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        routes: Sequence[BaseRoute],
        policy: Policy,
        authenticator: Authenticator,
        limiter: RateLimiter | None = None,
    ) -> None:
        missing = missing_rules(routes)
        if missing:
            raise NodeFault(f"routes without an access rule: {missing}")
        self.app = app
        self.routes = routes
        self.policy = policy
        self.authenticator = authenticator
        self.limiter = limiter
        self.identities: OrderedDict[bytes, Identity | CertificateRefused] = OrderedDict()
        self.signatures = SignatureAuthenticator(
            policy.account, enabled=policy.node.suite.name == Ed25519Sha256.name
        )

    def match(self, scope: Any) -> tuple[str, Rule, dict[str, Any]]:
        """The route template, its rule and the path parameters of a request."""
        partial_match: BaseRoute | None = None
        for route in self.routes:
            found, child = route.matches(scope)
            if found is Match.FULL and isinstance(route, Route):
                rule = RULES[
                    (scope["method"] if scope["method"] != "HEAD" else "GET", route.path_format)
                ]
                return route.path_format, rule, child.get("path_params", {})
            if found is Match.PARTIAL and partial_match is None:
                partial_match = route
        if isinstance(partial_match, Route):
            return partial_match.path_format, _MEMBER, {}  # the app answers 405
        return str(scope.get("path", "")), _MEMBER, {}  # the app answers 404

    def identify(self, der: bytes) -> Identity:
        """The identity of a certificate, remembered for the next requests on any connection
        (parsing and checking it costs more than a request's routing)."""
        known = self.identities.get(der)
        if known is None:
            try:
                known = self.authenticator.identify(der)
            except CertificateRefused as refused:
                known = refused
            self.identities[der] = known
            if len(self.identities) > MAX_CACHED_IDENTITIES:
                self.identities.popitem(last=False)
        if isinstance(known, CertificateRefused):
            raise known
        return known

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        der = scope.get(CLIENT_CERTIFICATE_KEY)
        metered = False
        if self.limiter is not None and der is not None and scope["path"] not in PUBLIC_PATHS:
            # A certificate's identity is known before the request is routed: a refusal here
            # costs no route matching and no body reading (module docstring).
            known = self.known_identity(der)
            if known is not None:
                if not await self.within_rate(known, scope, send):
                    return
                metered = True
        route, rule, parameters = self.match(scope)
        if rule.kind == PUBLIC:
            await self.app(scope, receive, send)
            return
        method = str(scope["method"])
        if der is None and has_signature(scope):
            signed = await self.signed_identity(scope, receive, send, route)
            if signed is None:
                return
            identity, receive = signed
        elif der is None:
            await self.record("", "", method, route, 401)
            await send_error(
                send,
                "unauthenticated",
                "this route needs a client certificate or a request signature",
            )
            return
        else:
            try:
                identity = self.identify(der)
            except CertificateRefused as refused:
                claimed = refused.details
                name, organization = claimed.get("identity", ""), claimed.get("organization", "")
                await self.record(name, organization, method, route, 401)
                await send_error(send, refused.code, refused.message)
                return
        limited = self.limiter is not None and not metered
        if limited and not await self.within_rate(identity, scope, send):
            return
        if rule.kind == QUERY:
            decided = await self.query_rule(parameters, receive)
            if decided is None:
                await self.record(identity.name, identity.organization, method, route, 413)
                await send_error(
                    send,
                    "request_too_large",
                    f"query arguments are over {MAX_QUERY_BODY_BYTES} bytes",
                )
                return
            rule, parameters, receive = decided
        if not self.policy.allows(rule, identity, parameters):
            await self.record(identity.name, identity.organization, method, route, 403)
            await send_error(
                send,
                "forbidden",
                f"{identity.name} of {identity.organization} may not call {method} {route} "
                f"({rule.describe()})",
            )
            return

        scope[IDENTITY_KEY] = identity  # for the routes that act for the caller

        async def recorded_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                await self.record(identity.name, identity.organization, method, route, status)
            await send(message)

        await self.app(scope, receive, recorded_send)

    def known_identity(self, der: bytes) -> Identity | None:
        """The identity of a certificate, or None when it is refused (the request goes on to be
        answered 401 where every refusal is)."""
        try:
            return self.identify(der)
        except CertificateRefused:
            return None

    async def within_rate(self, identity: Identity, scope: Any, send: Any) -> bool:
        """Whether ``identity`` is within its rate limit (``api.ratelimit``); if not, it has been
        answered 429 ``rate_limited`` here — held first if it did not wait for the
        ``Retry-After`` it was given, audited at most once a second, the answer encoded once."""
        assert self.limiter is not None
        key = f"{identity.organization}/{identity.name}"
        wait_s = self.limiter.admit(key)
        if not wait_s:
            return True
        refusal = self.limiter.refuse(key, wait_s)
        await self.limiter.hold(refusal)
        if refusal.audit:
            method = str(scope["method"])
            route = self.match(scope)[0]
            await self.record(identity.name, identity.organization, method, route, 429)
        limiter = self.limiter
        answer = rate_limited_answer(identity, limiter.rate, limiter.burst, refusal.retry_after_s)
        await send_encoded(send, answer)
        return False

    async def signed_identity(
        self, scope: Any, receive: Any, send: Any, route: str
    ) -> tuple[Identity, Any] | None:
        """The identity of a signed request and a ``receive`` that replays its body; None when
        it was refused (answered and audited here)."""
        method = str(scope["method"])
        read = await read_body(receive, MAX_SIGNED_BODY_BYTES)
        if read is None:
            await self.record("", "", method, route, 413)
            await send_error(
                send,
                "request_too_large",
                f"a signed request's body is at most {MAX_SIGNED_BODY_BYTES}",
            )
            return None
        body, replay = read
        try:
            # An account read, an Ed25519 verification and the fields' parsing: ~1 ms, off the loop.
            identity = await run_in_threadpool(self.signatures.identify, scope, body or b"")
        except SignatureRefused as refused:
            account = str(refused.details.get("account", ""))
            organization = self.policy.account_organization(account) or ""
            await self.record(account, organization, method, route, 401)
            await send_error(send, refused.code, refused.message, refused.details)
            return None
        return identity, replay

    async def query_rule(
        self, parameters: Mapping[str, Any], receive: Any
    ) -> tuple[Rule, dict[str, Any], Any] | None:
        """The rule of a contract query, its parameters from the arguments, and a ``receive``
        that hands the app the body read here; None when the body is over
        ``MAX_QUERY_BODY_BYTES`` (413)."""
        rule = QUERY_RULES.get((str(parameters.get("contract")), str(parameters.get("query_name"))))
        if rule is None:
            return _MEMBER, {}, receive
        if rule.kind == ROLE:
            return rule, {}, receive
        read = await read_body(receive, MAX_QUERY_BODY_BYTES)
        if read is None:
            return None
        body, replay = read
        if body is None:
            return _MEMBER, {}, receive  # the client left: the app sees the disconnect
        found = query_parameters(rule, body)
        if found is None:
            return _MEMBER, {}, replay  # the app refuses the arguments (400)
        return rule, found, replay

    async def record(
        self, name: str, organization: str, method: str, route: str, status: int
    ) -> None:
        """One audit record, durable before the answer leaves (docs/audit.md)."""
        await run_in_threadpool(
            partial(
                self.policy.node.record_audit,
                identity=name,
                organization=organization,
                method=method,
                route=route,
                status=status,
            )
        )


@lru_cache(maxsize=MAX_CACHED_IDENTITIES)
def rate_limited_answer(
    identity: Identity, rate: float, burst: int, retry_after_s: int
) -> EncodedError:
    """The 429 of ``identity``, encoded once: a flood is answered with the same bytes."""
    return encode_error(
        "rate_limited",
        f"{identity.name} of {identity.organization} is over its rate limit of {rate:g} "
        f"requests per second (burst {burst})",
        {"retry_after_s": retry_after_s},
        retry_after_s=retry_after_s,
    )


async def read_body(receive: Any, limit_bytes: int) -> tuple[bytes | None, Any] | None:
    """A request's whole body and a ``receive`` that hands it on to the app; None when it is
    over ``limit_bytes``; a None body when the client left first."""
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        body += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if len(body) > limit_bytes:
            return None
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def with_access_control(
    app: Any,
    api: FastAPI,
    node: NodePort,
    node_organization: str,
    revoked_certificates: Iterable[str],
    limiter: RateLimiter | None = None,
) -> AccessControl:
    """``app`` (the ASGI stack around ``api``, whose routes the rules name) behind ``RULES``, for
    a node whose organization is ``node_organization``; ``revoked_certificates`` are the SHA-256
    fingerprints (hex) of the node's configuration; ``limiter`` meters each identity."""
    authenticator = Authenticator(
        roots_from_genesis(node.genesis),
        frozenset(bytes.fromhex(fingerprint) for fingerprint in revoked_certificates),
    )
    policy = Policy(node, node_organization)
    return AccessControl(app, leaf_routes(api), policy, authenticator, limiter)


def leaf_routes(api: FastAPI) -> list[BaseRoute]:
    """The app's own routes (OpenAPI document, docs pages) and those of its routers (FastAPI
    wraps an included router in one route that matches all of its paths)."""
    routers: list[APIRouter] = getattr(api.state, "routers", [])
    own = [route for route in api.routes if isinstance(route, Route)]
    return own + [route for router in routers for route in router.routes]
