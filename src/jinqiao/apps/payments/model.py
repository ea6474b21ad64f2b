"""The payments contract's vocabulary: roles, limits, stored records, method arguments, query
results and the state keys they live under.

Every state key is built here, so the API can read any record and prove it against a header
(the full key is ``b"payments/" + key``). Ids inside keys are ASCII identifiers that contain no
``/``; cycle ids and sequence numbers are 8 bytes big-endian, so keys sort in numeric order and
parse without ambiguity. The table of keys is in ``docs/payments.md``.
"""

from __future__ import annotations

import re

from jinqiao.core.codec import CanonicalStruct

PAYMENTS = "payments"

# -- roles (account roles in the registry, and the roles an institution is registered with) -----

CARD_ISSUER_ROLE = "card_issuer"
ACQUIRER_ROLE = "acquirer"
CLEARING_HOUSE_ROLE = "clearing_house"
SETTLEMENT_AGENT_ROLE = "settlement_agent"
PAYMENT_ROLES = (ACQUIRER_ROLE, CARD_ISSUER_ROLE, CLEARING_HOUSE_ROLE, SETTLEMENT_AGENT_ROLE)

# -- closed vocabularies ----------------------------------------------------------------------

CARD_TYPES = ("credit", "debit")
CHANNELS = ("ecommerce", "mobile", "pos", "qr")
ANY_MCC = "*"

AUTHORIZED = "authorized"
REVERSED = "reversed"
CAPTURED = "captured"
CHARGED_BACK = "charged_back"
REPRESENTED = "represented"

# The settlement of a payment's capture, derived from its cycle (never written per payment).
NOT_CLEARED = "not_cleared"
PENDING = "pending"
SETTLED = "settled"
UNWOUND = "unwound"

CYCLE_OPEN = "open"
CYCLE_CLOSED = "closed"
CYCLE_SETTLED = "settled"

CAPTURE = "capture"
REFUND = "refund"
CHARGEBACK = "chargeback"
REPRESENTMENT = "representment"

ISSUER_SIDE = "issuer"
ACQUIRER_SIDE = "acquirer"

# -- formats and limits -----------------------------------------------------------------------

REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
"""Payment, refund and merchant ids: 1..64 ASCII letters, digits and ``_.:-``, no ``/``."""
AUTHORIZATION_CODE = re.compile(r"[A-Za-z0-9]{6}")
"""ISO 8583 field 38: six alphanumerics."""
REASON_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.]{0,7}")
"""A card network's chargeback reason code, e.g. ``4837`` or ``10.4``."""
MCC = re.compile(r"[0-9]{4}")
"""ISO 18245 merchant category code."""

PAYER_HASH_BYTES = 32
PPM = 1_000_000
"""Fee rates are in parts per million of the amount: 1 basis point = 100 ppm."""

MAX_CYCLE_INSTITUTIONS = 50
"""Institutions with obligations in one cycle. Settling pays each one in its own token transfer
(one event each, of 64 events a transaction may emit) and closing reads every flow between them
(at most 50 * 50 = 2,500 flow records, of the 10,000 state operations a transaction may use)."""
MAX_FEE_RULES = 64
MAX_REFUNDS_PER_PAYMENT = 64
MAX_FUNDING_WINDOW_BLOCKS = 1_000_000
MAX_ENTRIES_PAGE = 500
MAX_TIME_MS = 2**63 - 1
MAX_HEIGHT = 2**63 - 1


# -- state keys -------------------------------------------------------------------------------


def _id8(number: int) -> bytes:
    return number.to_bytes(8, "big")


def institution_key(institution: str) -> bytes:
    return b"institution/" + institution.encode()


def merchant_key(acquirer: str, merchant_id: str) -> bytes:
    return b"merchant/" + acquirer.encode() + b"/" + merchant_id.encode()


def fee_schedule_key(currency: str) -> bytes:
    """The schedule in force for ``currency``."""
    return b"fee_schedule/" + currency.encode()


def fee_schedule_version_key(currency: str, version: int) -> bytes:
    """Every schedule ever in force, by version (for audit: a capture names its version)."""
    return b"fee_schedule_version/" + currency.encode() + b"/" + _id8(version)


def collateral_key(currency: str, institution: str) -> bytes:
    return b"collateral/" + currency.encode() + b"/" + institution.encode()


def escrow_key(currency: str) -> bytes:
    """What the contract's token balance in ``currency`` is made of: posted collateral plus funds
    paid in for cycles not yet settled."""
    return b"escrow/" + currency.encode()


def payment_key(payment_id: str) -> bytes:
    return b"payment/" + payment_id.encode()


def refund_key(payment_id: str, refund_id: str) -> bytes:
    return b"refund/" + payment_id.encode() + b"/" + refund_id.encode()


NEXT_CYCLE_ID_KEY = b"next_cycle_id"


def cycle_key(cycle_id: int) -> bytes:
    return b"cycle/" + _id8(cycle_id)


def cycle_totals_key(cycle_id: int) -> bytes:
    return cycle_key(cycle_id) + b"/totals"


def participants_key(cycle_id: int) -> bytes:
    """The sorted ids of the institutions with obligations in the cycle."""
    return cycle_key(cycle_id) + b"/participants"


def acquirers_key(cycle_id: int, issuer: str) -> bytes:
    """The sorted ids of the acquirers with a flow from ``issuer`` in the cycle."""
    return cycle_key(cycle_id) + b"/acquirers/" + issuer.encode()


def flow_key(cycle_id: int, issuer: str, acquirer: str) -> bytes:
    return cycle_key(cycle_id) + b"/flow/" + issuer.encode() + b"/" + acquirer.encode()


def institution_cycle_key(cycle_id: int, institution: str) -> bytes:
    return cycle_key(cycle_id) + b"/institution/" + institution.encode()


def entry_key(cycle_id: int, institution: str, sequence: int) -> bytes:
    """The ``sequence``-th (from 0) clearing entry of ``institution`` in the cycle."""
    return cycle_key(cycle_id) + b"/entry/" + institution.encode() + b"/" + _id8(sequence)


def position_key(cycle_id: int, institution: str) -> bytes:
    return cycle_key(cycle_id) + b"/position/" + institution.encode()


# -- fee schedule ----------------------------------------------------------------------------


class FeeRate(CanonicalStruct, frozen=True):
    """A fee of ``rate_ppm`` millionths of the amount, rounded half up to a whole minor unit,
    then at least ``min_minor`` and at most ``cap_minor`` (``None``: no cap), and never more
    than the amount itself."""

    rate_ppm: int
    min_minor: int = 0
    cap_minor: int | None = None


class FeeRule(CanonicalStruct, frozen=True):
    """The fees of a card type in a merchant category (``mcc`` ``"*"``: every category without a
    rule of its own). The issuer fee (interchange) is owed by the acquirer to the issuer; each
    network fee is owed by its side to the network; the acquirer fee is what the acquirer charges
    its merchant, recorded for statements but not an interbank obligation."""

    card_type: str
    mcc: str
    issuer_fee: FeeRate
    issuer_network_fee: FeeRate
    acquirer_network_fee: FeeRate
    acquirer_fee: FeeRate


class FeeSchedule(CanonicalStruct, frozen=True):
    """The fee rules of one currency, sorted by (card type, mcc), each pair once. Network fees
    go to the clearing house that runs the cycle."""

    currency: str
    version: int
    rules: tuple[FeeRule, ...]


class Fees(CanonicalStruct, frozen=True):
    issuer_fee_minor: int = 0
    issuer_network_fee_minor: int = 0
    acquirer_network_fee_minor: int = 0
    acquirer_fee_minor: int = 0


NO_FEES = Fees()


# -- participants ------------------------------------------------------------------------------


class Institution(CanonicalStruct, frozen=True):
    """An organization registered for payments. ``settlement_account`` is its account in the
    token (it approves the escrow and receives payouts). ``net_debit_cap_minor`` (``None``: no
    cap) is checked and reported when a cycle closes. ``pending_cycles`` counts closed, unsettled
    cycles in which it has a position; its collateral cannot be withdrawn while it is not 0."""

    id: str
    roles: tuple[str, ...]
    settlement_account: bytes
    net_debit_cap_minor: int | None
    active: bool
    pending_cycles: int


class Merchant(CanonicalStruct, frozen=True):
    acquirer: str
    merchant_id: str
    name: str
    mcc: str


# -- payments ----------------------------------------------------------------------------------


class AuthorizeArgs(CanonicalStruct, frozen=True):
    """An authorization, as the issuer approved it. ``payer_hash`` is a keyed hash (HMAC) of the
    payer's identifier under a key only the issuer holds; the identifier never reaches the chain.
    ``time_ms`` is when the issuer approved it (its clock, for statements); the block's time and
    height are recorded separately."""

    payment_id: str
    issuer: str
    acquirer: str
    merchant_id: str
    payer_hash: bytes
    amount_minor: int
    currency: str
    channel: str
    card_type: str
    authorization_code: str
    time_ms: int


class Capture(CanonicalStruct, frozen=True):
    amount_minor: int
    cycle_id: int
    fees: Fees
    fee_schedule_version: int
    height: int


class Chargeback(CanonicalStruct, frozen=True):
    amount_minor: int
    reason_code: str
    cycle_id: int
    height: int


class Representment(CanonicalStruct, frozen=True):
    amount_minor: int
    cycle_id: int
    height: int


class Payment(CanonicalStruct, frozen=True):
    """A payment as stored. ``status`` is ``authorized``, ``reversed``, ``captured``,
    ``charged_back`` or ``represented``; whether the capture settled is derived from its cycle
    (the ``payment`` query reports it)."""

    authorization: AuthorizeArgs
    mcc: str
    status: str
    authorized_height: int
    reversed_height: int
    capture: Capture | None
    refunded_minor: int
    refund_count: int
    chargeback: Chargeback | None
    representment: Representment | None


class Refund(CanonicalStruct, frozen=True):
    payment_id: str
    refund_id: str
    amount_minor: int
    cycle_id: int
    height: int


# -- cycles ------------------------------------------------------------------------------------


class CycleReport(CanonicalStruct, frozen=True):
    """The risk check of a cycle's current positions. ``lamfalussy_covered``: the largest net
    debtor's posted collateral covers its net debit, so the cycle settles even if it fails to
    fund (true when there is no debtor). ``over_cap``: debtors over their net-debit cap."""

    participants: int
    obligations: int
    debit_total_minor: int
    largest_debtor: str
    largest_debit_minor: int
    largest_debtor_collateral_minor: int
    lamfalussy_covered: bool
    over_cap: tuple[str, ...]


class Cycle(CanonicalStruct, frozen=True):
    """A clearing cycle of one currency. Open until its cut-off (a height, a block time or
    both: whichever comes first), closed by the clearing house, funded by its net debtors and
    settled by a settlement agent. ``round`` counts position computations (1 at closing, one more
    per unwinding); ``excluded`` are the institutions unwound for not funding."""

    cycle_id: int
    currency: str
    clearing_house: str
    status: str
    opened_height: int
    cutoff_height: int | None
    cutoff_time_ms: int | None
    funding_window_blocks: int
    closed_height: int
    funding_deadline_height: int
    round: int
    excluded: tuple[str, ...]
    unfunded_debtors: int
    debit_total_minor: int
    funded_minor: int
    settled_height: int
    report: CycleReport | None


class CycleTotals(CanonicalStruct, frozen=True):
    """Running totals of a cycle. ``obligations_minor`` is the sum of every interbank obligation
    (amounts and fees); it is kept within ``MAX_AMOUNT_MINOR``, which bounds every other sum of
    the cycle."""

    captures: int = 0
    captured_minor: int = 0
    refunds: int = 0
    refunded_minor: int = 0
    chargebacks: int = 0
    charged_back_minor: int = 0
    representments: int = 0
    represented_minor: int = 0
    fees_minor: int = 0
    merchant_fees_minor: int = 0
    obligations_minor: int = 0


class Flow(CanonicalStruct, frozen=True):
    """Everything cleared in a cycle between one issuer and one acquirer (in that direction of
    the card payments), in total. Its interbank obligations follow from it
    (``netting.flow_obligations``): the issuer owes the acquirer ``captured + represented``;
    the acquirer owes the issuer ``refunded + charged_back`` plus the issuer fees; each side owes
    the cycle's clearing house its network fees. ``acquirer_fee_minor`` is what the acquirer's
    merchants owe it (not interbank). Unwinding an institution drops its flows whole."""

    issuer: str
    acquirer: str
    events: int = 0
    captured_minor: int = 0
    refunded_minor: int = 0
    charged_back_minor: int = 0
    represented_minor: int = 0
    issuer_fee_minor: int = 0
    issuer_network_fee_minor: int = 0
    acquirer_network_fee_minor: int = 0
    acquirer_fee_minor: int = 0


class InstitutionCycle(CanonicalStruct, frozen=True):
    """One institution's running totals in a cycle, and the length of its entry index."""

    institution: str
    entry_count: int
    debit_minor: int
    credit_minor: int
    fees_paid_minor: int
    fees_received_minor: int
    merchant_fees_minor: int


class Entry(CanonicalStruct, frozen=True):
    """A line of an institution's statement for a cycle: a clearing event of a payment it is
    the issuer or acquirer (``side``) of. ``reference`` is the refund id for refunds."""

    payment_id: str
    kind: str
    reference: str
    side: str
    counterparty: str
    amount_minor: int
    fees: Fees
    height: int


class Position(CanonicalStruct, frozen=True):
    """An institution's multilateral net position in a closed cycle (``net_minor`` > 0: it
    receives), the gross sums it nets, and its funding. ``funded_minor`` includes collateral
    drawn (``collateral_used_minor``). An unwound (excluded) institution's position is 0."""

    institution: str
    net_minor: int
    debit_minor: int
    credit_minor: int
    funded_minor: int
    collateral_used_minor: int
    paid_out_minor: int
    excluded: bool


# -- method arguments --------------------------------------------------------------------------


class RegisterInstitutionArgs(CanonicalStruct, frozen=True):
    """Register (or update) the organization ``id`` for payments (clearing house only)."""

    id: str
    roles: tuple[str, ...]
    settlement_account: bytes
    net_debit_cap_minor: int | None
    active: bool


class RegisterMerchantArgs(CanonicalStruct, frozen=True):
    """Register (or update) a merchant of the sender's acquirer."""

    merchant_id: str
    name: str
    mcc: str


class SetFeeScheduleArgs(CanonicalStruct, frozen=True):
    """Replace a currency's fee schedule (governance only; the version is assigned)."""

    currency: str
    rules: tuple[FeeRule, ...]


class PaymentArgs(CanonicalStruct, frozen=True):
    payment_id: str


class CaptureArgs(CanonicalStruct, frozen=True):
    payment_id: str
    amount_minor: int
    cycle_id: int


class RefundArgs(CanonicalStruct, frozen=True):
    payment_id: str
    refund_id: str
    amount_minor: int
    cycle_id: int


class ChargebackArgs(CanonicalStruct, frozen=True):
    payment_id: str
    amount_minor: int
    reason_code: str
    cycle_id: int


class RepresentArgs(CanonicalStruct, frozen=True):
    payment_id: str
    amount_minor: int
    cycle_id: int


class OpenCycleArgs(CanonicalStruct, frozen=True):
    currency: str
    cutoff_height: int | None
    cutoff_time_ms: int | None
    funding_window_blocks: int


class CycleArgs(CanonicalStruct, frozen=True):
    cycle_id: int


class CollateralArgs(CanonicalStruct, frozen=True):
    currency: str
    amount_minor: int


# -- query arguments and results ---------------------------------------------------------------


class InstitutionArgs(CanonicalStruct, frozen=True):
    id: str


class MerchantArgs(CanonicalStruct, frozen=True):
    acquirer: str
    merchant_id: str


class RefundQueryArgs(CanonicalStruct, frozen=True):
    payment_id: str
    refund_id: str


class CurrencyArgs(CanonicalStruct, frozen=True):
    currency: str


class QuoteArgs(CanonicalStruct, frozen=True):
    currency: str
    card_type: str
    mcc: str
    amount_minor: int


class CollateralQueryArgs(CanonicalStruct, frozen=True):
    currency: str
    institution: str


class CycleInstitutionArgs(CanonicalStruct, frozen=True):
    cycle_id: int
    institution: str


class FlowArgs(CanonicalStruct, frozen=True):
    cycle_id: int
    issuer: str
    acquirer: str


class EntriesArgs(CanonicalStruct, frozen=True):
    cycle_id: int
    institution: str
    start: int
    limit: int


class PaymentView(CanonicalStruct, frozen=True):
    """A payment and the settlement of its capture: ``not_cleared`` (no capture), ``pending``,
    ``settled`` or ``unwound``."""

    payment: Payment
    settlement: str


class Participants(CanonicalStruct, frozen=True):
    cycle_id: int
    institutions: tuple[str, ...]


class Entries(CanonicalStruct, frozen=True):
    """A page of an institution's entries; ``next_start`` is ``None`` after the last."""

    cycle_id: int
    institution: str
    entries: tuple[Entry, ...]
    next_start: int | None


class Positions(CanonicalStruct, frozen=True):
    cycle_id: int
    positions: tuple[Position, ...]


class Amount(CanonicalStruct, frozen=True):
    amount_minor: int
