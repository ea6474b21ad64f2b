"""Anti-money-laundering reports: large-value and suspicious-transaction cases found in a range of
committed blocks, per institution (its own customers) or for the regulator (every account), as
JSON and CSV. ``jinqiao.reports.aml_signed`` wraps a report with the proofs of the transactions it
lists and a signature.

Pure functions: the caller (``jinqiao.node.aml``) reads the committed blocks, the accounts of the
parties they name and the AML parameters in force at the range's last block, and passes them in.
The rules, their parameters and the formats are in ``docs/aml.md``; the parameters are
``jinqiao.apps.aml.AmlParameters`` (governance-held chain state).

What a rule sees, per reporting asset (``CNY`` by default):

* a *movement*: one ``Transfer`` event of the token contract in an accepted transaction (nested
  calls included, so the payments contract's settlement moves count). A mint is cash paid in to
  its recipient, a burn cash paid out of its sender (issuing and redeeming the digital currency
  stand where banknotes do in Order No. 3);
* an *attempt*: a transaction rejected ``party_denied`` or ``account_frozen``, with the parties it
  names (its sender, and the token method's recipient or owner).

A *subject* is a registered account (contracts are infrastructure: they count as counterparties,
never as subjects). An institution's customers are the accounts of its organization.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from jinqiao.apps.aml import AML_PARAMETER_NAMES, BASIS_POINTS, DAY_MS, AmlParameters
from jinqiao.apps.token import (
    MINT_BURN_ADDRESS,
    TOKEN,
    MintArgs,
    TransferArgs,
    TransferFromArgs,
)
from jinqiao.core.codec import decode
from jinqiao.core.errors import DecodeError, InvalidInput
from jinqiao.core.limits import MAX_ARGS_BYTES
from jinqiao.core.types import CommittedBlock, ReceiptStatus
from jinqiao.execution.api import Account
from jinqiao.reports.money import check_scale, format_minor
from jinqiao.reports.statement import to_json

AML_REPORT_FORMAT_VERSION = 1
MAX_REPORT_BLOCKS = 10_000
"""The most blocks one report reads (a day at one block a second is 86,400: ask for it in
pieces); a larger range is refused ``report_range_too_large``."""

INDIVIDUAL = "individual"
NON_INDIVIDUAL = "non_individual"
CONTRACT = "contract"
CASH_IN = "cash_in"
CASH_OUT = "cash_out"
TRANSFER = "transfer"
ATTEMPT = "attempt"
LISTED_CODES = ("party_denied", "account_frozen")

REPORT_DAY_OFFSET_MS = 8 * 3_600_000
"""Order No. 3's "day" is the calendar day in China (UTC+8): a block belongs to report day
``(time_ms + REPORT_DAY_OFFSET_MS) // DAY_MS``."""


def report_day(time_ms: int) -> int:
    """The China-time calendar day (days since 1970-01-01) of a block time."""
    return (time_ms + REPORT_DAY_OFFSET_MS) // DAY_MS


LARGE_CASH = "large_cash"
LARGE_TRANSFER = "large_transfer"
STRUCTURING = "structuring"
RAPID_IN_OUT = "rapid_in_out"
FAN_IN = "fan_in"
FAN_OUT = "fan_out"
LISTED_PARTY = "listed_party_activity"
SUSPICIOUS_RULES = (STRUCTURING, RAPID_IN_OUT, FAN_IN, FAN_OUT, LISTED_PARTY)


class ReportRangeReversed(InvalidInput):
    code = "report_range_reversed"


class ReportRangeEmpty(InvalidInput):
    code = "report_range_empty"


class ReportRangeTooLarge(InvalidInput):
    code = "report_range_too_large"


def check_report_range(from_height: int, to_height: int, head_height: int) -> None:
    """Refuse a range that is reversed, holds no committed block, or is over
    ``MAX_REPORT_BLOCKS``; heights are inclusive and start at 1."""
    if from_height > to_height:
        raise ReportRangeReversed(
            f"the range is reversed: from height {from_height} is above to height {to_height}",
            from_height=from_height,
            to_height=to_height,
        )
    if to_height - from_height + 1 > MAX_REPORT_BLOCKS:
        raise ReportRangeTooLarge(
            f"a report reads at most {MAX_REPORT_BLOCKS} blocks; "
            f"{from_height}..{to_height} is {to_height - from_height + 1}",
            limit_blocks=MAX_REPORT_BLOCKS,
        )
    if from_height < 1 or from_height > head_height:
        raise ReportRangeEmpty(
            f"no committed block in {from_height}..{to_height}: blocks are 1..{head_height}",
            from_height=from_height,
            head_height=head_height,
        )
    if to_height > head_height:
        raise ReportRangeEmpty(
            f"to height {to_height} is not committed yet; the head is {head_height}",
            to_height=to_height,
            head_height=head_height,
        )


# -- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """An address as the rules see it: its organization (empty for a contract) and kind
    (``individual``, ``non_individual`` or ``contract``)."""

    organization: str
    kind: str


def party_kind(roles: Iterable[str]) -> str:
    """An account is an individual's (a natural person's) unless it holds a role other than
    ``individual`` (``corporate``, ``admin``, ``currency_issuer`` …): docs/aml.md."""
    return NON_INDIVIDUAL if any(role != INDIVIDUAL for role in roles) else INDIVIDUAL


def party_of(account: Account | None) -> Party:
    """The ``Party`` of an address from its registry record (``None``: not an account — a
    contract, or the issuing address)."""
    if account is None:
        return Party("", CONTRACT)
    return Party(account.organization, party_kind(account.roles))


def named_addresses(blocks: Sequence[CommittedBlock], asset: str) -> list[bytes]:
    """Every address the movements and attempts of ``blocks`` name: the directory a report
    needs, sorted."""
    return sorted(
        {
            address
            for tx in extract(blocks, asset)
            for address in (tx.sender, tx.recipient)
            if address
        }
    )


# -- the report ----------------------------------------------------------------------------


class ListedTransaction(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A movement or attempt a case names. ``kind``: ``transfer``, ``cash_in``, ``cash_out`` or
    ``attempt`` (``code`` then says why it was rejected; ``amount_minor`` is what it tried to
    move). ``event_index`` is the ``Transfer`` event's index in the receipt (-1 for an
    attempt)."""

    transaction_hash: bytes
    height: int
    index: int
    event_index: int
    time_ms: int
    kind: str
    sender: bytes
    recipient: bytes
    amount_minor: int
    code: str


class Case(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One reportable finding about one subject account: ``rule`` (``large_cash``,
    ``large_transfer`` or one of ``SUSPICIOUS_RULES``), the subject's ``organization`` and
    ``subject_kind``, the block-time window it covers, the total amount of its transactions,
    ``measure`` (what the rule counted: the day's total, the number of structured amounts, the
    share out in basis points, the number of counterparties, the attempts), the ``threshold``
    it met, and the transactions (``sequence`` numbers into the report's ``transactions``)."""

    rule: str
    subject: bytes
    organization: str
    subject_kind: str
    direction: str
    window_start_ms: int
    window_end_ms: int
    total_minor: int
    measure: int
    threshold: int
    transactions: tuple[int, ...]


class AmlReport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cases found in blocks ``from_height..to_height`` for ``institution`` (``None``: the
    regulator's report, every subject). Amounts are minor units of ``asset`` (``scale``)."""

    format_version: int = AML_REPORT_FORMAT_VERSION
    chain_id: str
    institution: str | None
    asset: str
    scale: int
    from_height: int
    to_height: int
    from_time_ms: int
    to_time_ms: int
    parameters: dict[str, int]
    """The ``AmlParameters`` in force at ``to_height``, by name."""
    large_value: tuple[Case, ...]
    suspicious: tuple[Case, ...]
    transactions: tuple[ListedTransaction, ...]


# -- extraction ---------------------------------------------------------------------------------


def extract(blocks: Sequence[CommittedBlock], asset: str) -> list[ListedTransaction]:
    """Every movement of ``asset`` and every listed-party attempt, in chain order."""
    found: list[ListedTransaction] = []
    for committed in blocks:
        header = committed.block.header
        for index, receipt in enumerate(committed.receipts):
            where = _Where(receipt.transaction_hash, header.height, index, header.time_ms)
            if receipt.status == ReceiptStatus.REJECTED:
                if receipt.code in LISTED_CODES:
                    body = committed.block.transactions[index].body
                    sender, recipient, amount = _attempted(body.contract, body.method, body.args)
                    found.append(
                        ListedTransaction(
                            transaction_hash=where.transaction_hash,
                            height=where.height,
                            index=where.index,
                            time_ms=where.time_ms,
                            event_index=-1,
                            kind=ATTEMPT,
                            sender=sender or body.sender,
                            recipient=recipient,
                            amount_minor=amount,
                            code=receipt.code,
                        )
                    )
                continue
            for event_index, event in enumerate(receipt.events):
                if event.contract != TOKEN or event.name != "Transfer":
                    continue
                if event.attribute("asset") != asset:
                    continue
                found.append(_movement(where, event_index, event.attributes))
    return found


@dataclass(frozen=True)
class _Where:
    transaction_hash: bytes
    height: int
    index: int
    time_ms: int


def _movement(
    where: _Where, event_index: int, attributes: Iterable[tuple[str, object]]
) -> ListedTransaction:
    values = dict(attributes)
    sender = bytes.fromhex(str(values["sender"]))
    recipient = bytes.fromhex(str(values["recipient"]))
    amount = values["amount_minor"]
    if not isinstance(amount, int):
        raise InvalidInput("a Transfer event without an integer amount")
    kind = TRANSFER
    if sender == MINT_BURN_ADDRESS:
        kind = CASH_IN
    elif recipient == MINT_BURN_ADDRESS:
        kind = CASH_OUT
    return ListedTransaction(
        transaction_hash=where.transaction_hash,
        height=where.height,
        index=where.index,
        time_ms=where.time_ms,
        event_index=event_index,
        kind=kind,
        sender=sender,
        recipient=recipient,
        amount_minor=amount,
        code="ok",
    )


def _attempted(contract: str, method: str, raw: bytes) -> tuple[bytes | None, bytes, int]:
    """(owner if not the sender, recipient, amount) of a rejected token call; else nothing."""
    if contract != TOKEN:
        return None, b"", 0
    try:
        if method == "transfer":
            paid = decode(raw, TransferArgs, max_bytes=MAX_ARGS_BYTES)
            return None, paid.recipient, paid.amount_minor
        if method == "mint":
            minted = decode(raw, MintArgs, max_bytes=MAX_ARGS_BYTES)
            return None, minted.recipient, minted.amount_minor
        if method == "transfer_from":
            moved = decode(raw, TransferFromArgs, max_bytes=MAX_ARGS_BYTES)
            return moved.owner, moved.recipient, moved.amount_minor
    except DecodeError:
        pass  # a rejection for bad arguments would not carry a listed-party code
    return None, b"", 0


# -- the rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leg:
    """One side of a listed transaction, seen from ``subject``: ``direction`` is ``in`` or
    ``out``, ``counterparty`` the other side."""

    sequence: int
    subject: bytes
    counterparty: bytes
    direction: str
    time_ms: int
    amount_minor: int
    kind: str


def _legs(transactions: Sequence[ListedTransaction]) -> dict[bytes, list[_Leg]]:
    legs: dict[bytes, list[_Leg]] = defaultdict(list)
    for sequence, tx in enumerate(transactions):
        if tx.kind == ATTEMPT or tx.sender == tx.recipient:
            continue
        if tx.sender != MINT_BURN_ADDRESS:
            legs[tx.sender].append(
                _Leg(sequence, tx.sender, tx.recipient, "out", tx.time_ms, tx.amount_minor, tx.kind)
            )
        if tx.recipient != MINT_BURN_ADDRESS:
            legs[tx.recipient].append(
                _Leg(sequence, tx.recipient, tx.sender, "in", tx.time_ms, tx.amount_minor, tx.kind)
            )
    return legs


def _threshold(parameters: AmlParameters, kind: str, subject_kind: str) -> int:
    if kind in (CASH_IN, CASH_OUT):
        return parameters.large_cash_minor
    if subject_kind == INDIVIDUAL:
        return parameters.large_transfer_individual_minor
    return parameters.large_transfer_non_individual_minor


def _case(rule: str, party: Party, legs: Sequence[_Leg], measure: int, threshold: int) -> Case:
    return Case(
        rule=rule,
        subject=legs[0].subject,
        organization=party.organization,
        subject_kind=party.kind,
        direction=legs[0].direction,
        window_start_ms=min(leg.time_ms for leg in legs),
        window_end_ms=max(leg.time_ms for leg in legs),
        total_minor=sum(leg.amount_minor for leg in legs),
        measure=measure,
        threshold=threshold,
        transactions=tuple(sorted({leg.sequence for leg in legs})),
    )


def large_value_cases(legs: Sequence[_Leg], party: Party, parameters: AmlParameters) -> list[Case]:
    """Order No. 3 Art. 5: per China-time day (``report_day``), direction and category (cash or
    transfer), a single amount or the day's total at or above the threshold for the subject's
    kind."""
    groups: dict[tuple[int, str, bool], list[_Leg]] = defaultdict(list)
    for leg in legs:
        groups[(report_day(leg.time_ms), leg.direction, leg.kind == TRANSFER)].append(leg)
    cases = []
    for (_, _, is_transfer), group in sorted(groups.items()):
        threshold = _threshold(parameters, group[0].kind, party.kind)
        total = sum(leg.amount_minor for leg in group)
        if total >= threshold:
            rule = LARGE_TRANSFER if is_transfer else LARGE_CASH
            cases.append(_case(rule, party, group, total, threshold))
    return cases


def _clusters(
    legs: Sequence[_Leg], window_ms: int, fires: Callable[[Sequence[_Leg]], bool]
) -> list[list[_Leg]]:
    """The legs (in time order) of every window of ``window_ms`` for which ``fires`` holds,
    overlapping windows merged into one cluster."""
    clusters: list[list[_Leg]] = []
    start = 0
    for end in range(len(legs)):
        while legs[end].time_ms - legs[start].time_ms > window_ms:
            start += 1
        window = legs[start : end + 1]
        if not fires(window):
            continue
        if clusters and clusters[-1][-1].time_ms >= window[0].time_ms:
            merged = {id(leg): leg for leg in (*clusters[-1], *window)}
            clusters[-1] = sorted(merged.values(), key=lambda leg: (leg.time_ms, leg.sequence))
        else:
            clusters.append(list(window))
    return clusters


def structuring_cases(legs: Sequence[_Leg], party: Party, parameters: AmlParameters) -> list[Case]:
    """Amounts within ``structuring_margin_bps`` below the threshold that applies to them, at
    least ``structuring_min_count`` of them in one direction within ``structuring_window_ms``."""
    cases = []
    for direction in ("in", "out"):
        near = [
            leg
            for leg in legs
            if leg.direction == direction and _just_under(leg, party, parameters)
        ]
        for cluster in _clusters(
            near,
            parameters.structuring_window_ms,
            lambda window: len(window) >= parameters.structuring_min_count,
        ):
            cases.append(
                _case(STRUCTURING, party, cluster, len(cluster), parameters.structuring_min_count)
            )
    return cases


def _just_under(leg: _Leg, party: Party, parameters: AmlParameters) -> bool:
    threshold = _threshold(parameters, leg.kind, party.kind)
    floor = threshold * (BASIS_POINTS - parameters.structuring_margin_bps) // BASIS_POINTS
    return floor <= leg.amount_minor < threshold


def rapid_cases(legs: Sequence[_Leg], party: Party, parameters: AmlParameters) -> list[Case]:
    """Money in (at least ``rapid_min_amount_minor`` at once, for a non-individual
    ``rapid_min_amount_non_individual_minor``) of which at least ``rapid_share_bps`` leaves
    again within ``rapid_window_ms``."""
    cases = []
    used: set[int] = set()
    minimum = parameters.rapid_min_amount_minor
    if party.kind != INDIVIDUAL:
        minimum = parameters.rapid_min_amount_non_individual_minor
    for position, inflow in enumerate(legs):
        if inflow.direction != "in" or inflow.amount_minor < minimum:
            continue
        if inflow.sequence in used:
            continue
        outflows = [
            leg
            for leg in legs[position + 1 :]
            if leg.direction == "out" and leg.time_ms - inflow.time_ms <= parameters.rapid_window_ms
        ]
        out_total = sum(leg.amount_minor for leg in outflows)
        if out_total * BASIS_POINTS < parameters.rapid_share_bps * inflow.amount_minor:
            continue
        share = min(out_total * BASIS_POINTS // inflow.amount_minor, 10 * BASIS_POINTS)
        used.update(leg.sequence for leg in (inflow, *outflows))
        case = _case(RAPID_IN_OUT, party, [inflow, *outflows], share, parameters.rapid_share_bps)
        cases.append(msgspec.structs.replace(case, direction="in_out"))
    return cases


def fan_cases(legs: Sequence[_Leg], party: Party, parameters: AmlParameters) -> list[Case]:
    """At least ``fan_min_counterparties`` (for a non-individual
    ``fan_min_counterparties_non_individual``) distinct counterparties paying the subject
    (fan-in) or paid by it (fan-out) within ``fan_window_ms``."""
    cases = []
    minimum = parameters.fan_min_counterparties
    if party.kind != INDIVIDUAL:
        minimum = parameters.fan_min_counterparties_non_individual
    for direction, rule in (("in", FAN_IN), ("out", FAN_OUT)):
        moving = [leg for leg in legs if leg.direction == direction and leg.kind == TRANSFER]
        for cluster in _clusters(
            moving,
            parameters.fan_window_ms,
            lambda window: _counterparties(window) >= minimum,
        ):
            cases.append(_case(rule, party, cluster, _counterparties(cluster), minimum))
    return cases


def _counterparties(legs: Sequence[_Leg]) -> int:
    return len({leg.counterparty for leg in legs})


def listed_cases(
    transactions: Sequence[ListedTransaction],
    directory: Mapping[bytes, Party],
    parameters: AmlParameters,
) -> dict[bytes, Case]:
    """Per registered party: its attempts rejected ``party_denied`` or ``account_frozen``,
    when there are at least ``listed_min_attempts``."""
    attempts: dict[bytes, list[_Leg]] = defaultdict(list)
    for sequence, tx in enumerate(transactions):
        if tx.kind != ATTEMPT:
            continue
        for subject, direction in ((tx.sender, "out"), (tx.recipient, "in")):
            if subject in directory and directory[subject].kind != CONTRACT:
                leg = _Leg(sequence, subject, b"", direction, tx.time_ms, tx.amount_minor, ATTEMPT)
                attempts[subject].append(leg)
    cases = {}
    for subject, legs in attempts.items():
        if len(legs) >= parameters.listed_min_attempts:
            case = _case(LISTED_PARTY, directory[subject], legs, len(legs), 0)
            cases[subject] = msgspec.structs.replace(
                case, direction="any", threshold=parameters.listed_min_attempts
            )
    return cases


# -- building the report ------------------------------------------------------------------------


def build_aml_report(
    blocks: Sequence[CommittedBlock],
    directory: Mapping[bytes, Party],
    parameters: AmlParameters,
    *,
    chain_id: str,
    institution: str | None = None,
    asset: str = "CNY",
    scale: int = 2,
) -> AmlReport:
    """The report over ``blocks`` (consecutive, in height order). ``directory`` gives the
    ``Party`` of every address the blocks' movements and attempts name (an address missing from
    it is not a subject: a contract, or an account unknown at the range's end)."""
    check_scale(scale)
    if not blocks:
        raise ReportRangeEmpty("a report needs at least one committed block")
    heights = [committed.block.header.height for committed in blocks]
    if heights != list(range(heights[0], heights[0] + len(heights))):
        raise InvalidInput("the blocks of a report must be consecutive and in order")
    everything = extract(blocks, asset)
    large: list[Case] = []
    suspicious: list[Case] = []
    legs_by_subject = _legs(everything)
    for subject in sorted(legs_by_subject):
        party = directory.get(subject)
        if party is None or party.kind == CONTRACT:
            continue
        if institution is not None and party.organization != institution:
            continue
        legs = sorted(legs_by_subject[subject], key=lambda leg: (leg.time_ms, leg.sequence))
        large.extend(large_value_cases(legs, party, parameters))
        suspicious.extend(structuring_cases(legs, party, parameters))
        suspicious.extend(rapid_cases(legs, party, parameters))
        suspicious.extend(fan_cases(legs, party, parameters))
    for _subject, case in sorted(listed_cases(everything, directory, parameters).items()):
        if institution is None or case.organization == institution:
            suspicious.append(case)
    return _renumbered(
        AmlReport(
            chain_id=chain_id,
            institution=institution,
            asset=asset,
            scale=scale,
            from_height=heights[0],
            to_height=heights[-1],
            from_time_ms=blocks[0].block.header.time_ms,
            to_time_ms=blocks[-1].block.header.time_ms,
            parameters={name: getattr(parameters, name) for name in AML_PARAMETER_NAMES},
            large_value=tuple(large),
            suspicious=tuple(suspicious),
            transactions=tuple(everything),
        )
    )


def _renumbered(report: AmlReport) -> AmlReport:
    """Keep only the transactions some case names, numbered in chain order."""
    named = sorted(
        {
            sequence
            for case in (*report.large_value, *report.suspicious)
            for sequence in case.transactions
        }
    )
    new_number = {old: new for new, old in enumerate(named)}

    def renumber(case: Case) -> Case:
        return msgspec.structs.replace(
            case, transactions=tuple(new_number[old] for old in case.transactions)
        )

    return msgspec.structs.replace(
        report,
        large_value=tuple(renumber(case) for case in report.large_value),
        suspicious=tuple(renumber(case) for case in report.suspicious),
        transactions=tuple(report.transactions[old] for old in named),
    )


# -- renderings ---------------------------------------------------------------------------------


def aml_report_to_json(report: AmlReport) -> bytes:
    """The report as UTF-8 JSON: the ``AmlReport`` fields by name, ``bytes`` as lowercase hex."""
    return to_json(report)


AML_CSV_COLUMNS = (
    "section",
    "case",
    "rule",
    "subject",
    "organization",
    "subject_kind",
    "direction",
    "measure",
    "threshold",
    "transaction_hash",
    "height",
    "index",
    "time_ms",
    "kind",
    "sender",
    "recipient",
    "currency",
    "amount_minor",
    "amount",
    "code",
)
"""The columns of ``aml_report_to_csv``, in order (docs/aml.md)."""


def aml_report_to_csv(report: AmlReport) -> bytes:
    """One row per (case, transaction) under a header row of ``AML_CSV_COLUMNS``; ``section`` is
    ``large_value`` or ``suspicious``, ``case`` the case's number within its section. UTF-8,
    CRLF (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(AML_CSV_COLUMNS)
    for section, cases in (("large_value", report.large_value), ("suspicious", report.suspicious)):
        for number, case in enumerate(cases):
            for sequence in case.transactions:
                tx = report.transactions[sequence]
                writer.writerow(
                    (
                        section,
                        number,
                        case.rule,
                        case.subject.hex(),
                        case.organization,
                        case.subject_kind,
                        case.direction,
                        case.measure,
                        case.threshold,
                        tx.transaction_hash.hex(),
                        tx.height,
                        tx.index,
                        tx.time_ms,
                        tx.kind,
                        tx.sender.hex(),
                        tx.recipient.hex(),
                        report.asset,
                        tx.amount_minor,
                        format_minor(tx.amount_minor, report.scale),
                        tx.code,
                    )
                )
    return buffer.getvalue().encode()
