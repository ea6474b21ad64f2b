"""Anti-money-laundering rule parameters and the consortium deny list: both governance-held
state (the governance contract writes them, only through a proposal that reached quorum), read by
the token contract (the deny list) and by the report generator (``jinqiao.reports.aml``).

Why not fields of ``ChainParameters``: those are in every genesis and the runtime reads them for
every block; the AML parameters are read by reports only, so they live in their own record whose
absence means the defaults below, and a network that never changes them keeps its genesis state.

State layout (namespace ``governance``; the full key is ``b"governance/" + key``):

==================================  ===============================================================
key                                 value
==================================  ===============================================================
``aml_parameters``                  ``AmlParameters`` (absent means ``AmlParameters()``)
``denied/account/<address>``        ``DeniedParty`` (``<address>`` the raw 20 bytes)
``denied/organization/<id>``        ``DeniedParty``
``denied_count``                    ``int``: how many parties are listed (absent means 0)
==================================  ===============================================================

Amounts are minor units of the reporting asset (fen of CNY, scale 2); windows are milliseconds
of block time; shares and margins are basis points (1/10,000). ``docs/aml.md`` gives each
parameter's source in PBOC Order No. 3 (2016).
"""

from __future__ import annotations

import msgspec

from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import IDENTIFIER
from jinqiao.core.limits import MAX_AMOUNT_MINOR
from jinqiao.core.types import ADDRESS_BYTES
from jinqiao.execution.api import GOVERNANCE, Context

AML_PARAMETERS_KEY = b"aml_parameters"
DENIED_PREFIX = b"denied/"
DENIED_COUNT_KEY = b"denied_count"
PARTY_ACCOUNT = "account"
PARTY_ORGANIZATION = "organization"
PARTY_KINDS = (PARTY_ACCOUNT, PARTY_ORGANIZATION)
MAX_REASON_LENGTH = 200
BASIS_POINTS = 10_000
DAY_MS = 86_400_000
MAX_WINDOW_MS = 366 * DAY_MS
MAX_COUNT = 10_000


class AmlParameters(CanonicalStruct, frozen=True):
    """The AML rules' parameters. Defaults: thresholds from PBOC Order No. 3 (2016) Article 5,
    pattern parameters chosen by the consortium (docs/aml.md)."""

    large_cash_minor: int = 5_000_000
    """Cash (issuing or redeeming the digital currency): CNY 50,000 (Art. 5(1))."""
    large_transfer_non_individual_minor: int = 200_000_000
    """Transfers of a non-individual account: CNY 2,000,000 (Art. 5(2))."""
    large_transfer_individual_minor: int = 50_000_000
    """Domestic transfers of an individual's account: CNY 500,000 (Art. 5(3))."""
    structuring_window_ms: int = 7 * DAY_MS
    structuring_margin_bps: int = 1_000
    structuring_min_count: int = 3
    rapid_window_ms: int = DAY_MS
    rapid_share_bps: int = 9_000
    rapid_min_amount_minor: int = 5_000_000
    """An individual's inflow that the rapid in-and-out rule follows: CNY 50,000."""
    rapid_min_amount_non_individual_minor: int = 200_000_000
    """A non-individual's: CNY 2,000,000 (a business pays out what it takes in every day)."""
    fan_window_ms: int = DAY_MS
    fan_min_counterparties: int = 10
    """Distinct counterparties of an individual in one window."""
    fan_min_counterparties_non_individual: int = 50
    """Of a non-individual (a merchant is paid by many customers a day)."""
    listed_min_attempts: int = 1

    def check(self) -> None:
        """Raise ``InvalidInput`` naming the first parameter out of its range."""
        for name in AML_PARAMETER_NAMES:
            value = getattr(self, name)
            low, high = parameter_range(name)
            if type(value) is not int or not low <= value <= high:
                raise InvalidInput(f"{name} must be an integer in {low}..{high}", name=name)


AML_PARAMETER_NAMES: tuple[str, ...] = tuple(
    field.name for field in msgspec.structs.fields(AmlParameters)
)


def parameter_range(name: str) -> tuple[int, int]:
    """The inclusive range of AML parameter ``name``: every one is positive (a threshold, a
    window or a count of 0 would switch its rule off or make it fire on everything)."""
    if name.endswith("_bps"):
        return 1, BASIS_POINTS - 1 if name == "structuring_margin_bps" else BASIS_POINTS
    if name.endswith("_ms"):
        return 1, MAX_WINDOW_MS
    if name.endswith("_minor"):
        return 1, MAX_AMOUNT_MINOR
    return 1, MAX_COUNT


class DeniedParty(CanonicalStruct, frozen=True):
    """A party on the consortium deny list: ``kind`` is ``account`` (``party`` the address in
    lowercase hex) or ``organization`` (``party`` its id); ``listed_height`` is when the
    proposal executed."""

    kind: str
    party: str
    reason: str
    listed_height: int


def denied_key(kind: str, party: str) -> bytes:
    """The state key (without ``governance/``) of a listed party, from its checked form."""
    if kind == PARTY_ACCOUNT:
        return DENIED_PREFIX + b"account/" + bytes.fromhex(party)
    return DENIED_PREFIX + b"organization/" + party.encode()


def party_problem(kind: str, party: str) -> str | None:
    """Why (``kind``, ``party``) cannot name a party, or ``None`` if it can."""
    if kind == PARTY_ACCOUNT:
        if len(party) != 2 * ADDRESS_BYTES or party.strip("0123456789abcdef"):
            return f"an account party is its address as {2 * ADDRESS_BYTES} lowercase hex digits"
        return None
    if kind == PARTY_ORGANIZATION:
        return None if IDENTIFIER.fullmatch(party) else "an organization party is its id"
    return f"a party's kind is one of {', '.join(PARTY_KINDS)}"


def load_aml_parameters(ctx: Context) -> AmlParameters:
    return ctx.read(GOVERNANCE, AML_PARAMETERS_KEY, AmlParameters) or AmlParameters()


def listed_party(ctx: Context, address: bytes) -> DeniedParty | None:
    """The deny-list entry that covers ``address`` (the account itself, or its organization),
    or ``None``."""
    entry = ctx.read(GOVERNANCE, denied_key(PARTY_ACCOUNT, address.hex()), DeniedParty)
    if entry is not None:
        return entry
    account = ctx.account(address)
    if account is None:
        return None
    return ctx.read(GOVERNANCE, denied_key(PARTY_ORGANIZATION, account.organization), DeniedParty)


def check_not_denied(ctx: Context, *addresses: bytes) -> None:
    """Reject ``party_denied`` if one of ``addresses`` or its organization is on the deny list.
    One state read (the list's size) while the list is empty."""
    if not ctx.read(GOVERNANCE, DENIED_COUNT_KEY, int):
        return
    for address in addresses:
        entry = listed_party(ctx, address)
        if entry is None:
            continue
        ctx.reject(
            "party_denied",
            f"account {address.hex()} is on the consortium deny list ({entry.kind} {entry.party})",
            address=address.hex(),
            kind=entry.kind,
            party=entry.party,
        )


__all__ = [
    "AML_PARAMETERS_KEY",
    "AML_PARAMETER_NAMES",
    "DENIED_COUNT_KEY",
    "DENIED_PREFIX",
    "MAX_REASON_LENGTH",
    "PARTY_ACCOUNT",
    "PARTY_KINDS",
    "PARTY_ORGANIZATION",
    "AmlParameters",
    "DeniedParty",
    "check_not_denied",
    "denied_key",
    "listed_party",
    "load_aml_parameters",
    "parameter_range",
    "party_problem",
]
