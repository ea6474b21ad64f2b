"""SDK helpers for the payments contract (``docs/payments.md``): one helper per method, and reads.

Writes return the ``TransactionResult`` (its inclusion and receipt proofs verified); a rejected
transition is a committed receipt with its code (``result.code``), not an exception.

Reads of one state value — a cycle, a position, an institution's cycle totals, a payment, a flow,
one entry — are **proven** (``Client.read_struct``: the value is checked against a block header
signed by the validators); ``None`` is a proven absence. Listings that span many keys
(``positions``, ``entries``) go through contract queries and are **not proven**: use them to find
what to read, and prove a value with the single-key reads when it matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinqiao.apps.payments.figures import (
    CycleFigures,
    CycleTiming,
    cycle_figures,
    cycle_timing,
    timing_heights,
)
from jinqiao.apps.payments.model import (
    PAYMENTS,
    AuthorizeArgs,
    CaptureArgs,
    ChargebackArgs,
    CollateralArgs,
    Cycle,
    CycleArgs,
    CycleTotals,
    Entry,
    Flow,
    Institution,
    InstitutionCycle,
    OpenCycleArgs,
    Payment,
    PaymentArgs,
    Position,
    Refund,
    RefundArgs,
    RegisterInstitutionArgs,
    RegisterMerchantArgs,
    RepresentArgs,
    cycle_key,
    cycle_totals_key,
    entry_key,
    flow_key,
    institution_cycle_key,
    institution_key,
    participants_key,
    payment_key,
    position_key,
    refund_key,
)
from jinqiao.apps.token import TOKEN, ApproveArgs
from jinqiao.client.verified import Verified
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer
from jinqiao.execution.contract import contract_address
from jinqiao.execution.state import full_key
from jinqiao.reports.reading import ReportRequest
from jinqiao.verify import VerificationError

if TYPE_CHECKING:
    from jinqiao.client.client import Client, TransactionResult

MAX_RESULT_BYTES = 64 * 1024


MAX_FIGURES_PARTICIPANTS = 10_000
"""Positions a ``/figures`` answer may prove (a bound on the work of checking one)."""


@dataclass(frozen=True)
class ProvenFigures:
    """A cycle's figures and timing (``GET /v1/payments/cycles/{cycle}/figures``), recomputed
    from the cycle, its participants and each participant's position proven at ``height``
    (time ``time_ms``) and from the certified headers of the heights its timing names;
    ``positions`` are the participants' positions that exist (none while the cycle is open)."""

    cycle: Cycle
    participants: tuple[str, ...]
    positions: tuple[Position, ...]
    figures: CycleFigures
    timing: CycleTiming
    height: int
    time_ms: int
    state_root: bytes
    block_times_ms: dict[int, int]
    """The certified block time of each height of the cycle's timing, in order."""


class PaymentsClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def escrow_address(self) -> bytes:
        """The payments contract's token address: the settlement escrow that funding pays into
        and that a settlement account must ``approve``."""
        return contract_address(self._client.suite.hash, PAYMENTS)

    def _send(self, signer: Signer, method: str, args: Any) -> TransactionResult:
        return self._client.send(signer, PAYMENTS, method, args)

    # -- participants ----------------------------------------------------------------------
    def register_institution(
        self,
        clearing_house: Signer,
        institution: str,
        roles: tuple[str, ...],
        settlement_account: bytes,
        *,
        net_debit_cap_minor: int | None = None,
        active: bool = True,
    ) -> TransactionResult:
        args = RegisterInstitutionArgs(
            institution, roles, settlement_account, net_debit_cap_minor, active
        )
        return self._send(clearing_house, "register_institution", args)

    def register_merchant(
        self, acquirer: Signer, merchant_id: str, name: str, mcc: str
    ) -> TransactionResult:
        return self._send(
            acquirer, "register_merchant", RegisterMerchantArgs(merchant_id, name, mcc)
        )

    # -- the payment lifecycle -------------------------------------------------------------
    def authorize(self, issuer: Signer, authorization: AuthorizeArgs) -> TransactionResult:
        return self._send(issuer, "authorize", authorization)

    def capture(
        self, acquirer: Signer, payment_id: str, amount_minor: int, cycle_id: int
    ) -> TransactionResult:
        return self._send(acquirer, "capture", CaptureArgs(payment_id, amount_minor, cycle_id))

    def refund(
        self, acquirer: Signer, payment_id: str, refund_id: str, amount_minor: int, cycle_id: int
    ) -> TransactionResult:
        args = RefundArgs(payment_id, refund_id, amount_minor, cycle_id)
        return self._send(acquirer, "refund", args)

    def reverse(self, acquirer: Signer, payment_id: str) -> TransactionResult:
        return self._send(acquirer, "reverse", PaymentArgs(payment_id))

    def chargeback(
        self, issuer: Signer, payment_id: str, amount_minor: int, reason_code: str, cycle_id: int
    ) -> TransactionResult:
        args = ChargebackArgs(payment_id, amount_minor, reason_code, cycle_id)
        return self._send(issuer, "chargeback", args)

    def represent(
        self, acquirer: Signer, payment_id: str, amount_minor: int, cycle_id: int
    ) -> TransactionResult:
        return self._send(acquirer, "represent", RepresentArgs(payment_id, amount_minor, cycle_id))

    # -- cycles, funding, settlement -------------------------------------------------------
    def open_cycle(
        self,
        clearing_house: Signer,
        currency: str,
        *,
        cutoff_height: int | None = None,
        cutoff_time_ms: int | None = None,
        funding_window_blocks: int = 100,
    ) -> TransactionResult:
        """Open a cycle; ``opened_cycle_id(result)`` is its id."""
        args = OpenCycleArgs(currency, cutoff_height, cutoff_time_ms, funding_window_blocks)
        return self._send(clearing_house, "open_cycle", args)

    @staticmethod
    def opened_cycle_id(result: TransactionResult) -> int:
        """The id of the cycle an accepted ``open_cycle`` transaction opened."""
        if not result.ok:
            raise ValueError(f"open_cycle was rejected: {result.code}")
        return decode(result.receipt.result, int, max_bytes=16)

    def close_cycle(self, clearing_house: Signer, cycle_id: int) -> TransactionResult:
        return self._send(clearing_house, "close_cycle", CycleArgs(cycle_id))

    def fund(
        self, settlement_account: Signer, cycle_id: int, *, approve: bool = True
    ) -> TransactionResult:
        """Pay the signer's institution's outstanding net debit in a closed cycle into the
        escrow. With ``approve`` (the default) the signer — which must then be the institution's
        settlement account — first approves the escrow for exactly the outstanding debit, read
        with a proof; without it, a standing allowance must already cover it. A rejected
        approval is returned as is, and ``fund`` is not sent."""
        if approve:
            owed = self.outstanding_debit(settlement_account.address, cycle_id)
            if owed > 0:
                cycle = self.cycle(cycle_id)
                currency = "" if cycle is None else cycle.currency
                approval = self._client.send(
                    settlement_account,
                    TOKEN,
                    "approve",
                    ApproveArgs(currency, self.escrow_address, owed),
                )
                if not approval.ok:
                    return approval
        return self._send(settlement_account, "fund", CycleArgs(cycle_id))

    def outstanding_debit(self, account: bytes, cycle_id: int) -> int:
        """What the institution of ``account`` still owes the escrow in the cycle (proven reads
        of its account record and position; 0 if it has no position)."""
        organization = self._organization_of(account)
        position = self.position(cycle_id, organization) if organization else None
        if position is None:
            return 0
        return max(0, -position.net_minor - position.funded_minor)

    def _organization_of(self, account: bytes) -> str:
        from jinqiao.execution.identity import REGISTRY, Account, account_key

        record = self._client.read_struct(REGISTRY, account_key(account), Account)
        return "" if record is None else record.organization

    def post_collateral(
        self, settlement_account: Signer, currency: str, amount_minor: int, *, approve: bool = True
    ) -> TransactionResult:
        """Post collateral, pulled from the settlement account (approved first, like ``fund``)."""
        if approve:
            approval = self._client.send(
                settlement_account,
                TOKEN,
                "approve",
                ApproveArgs(currency, self.escrow_address, amount_minor),
            )
            if not approval.ok:
                return approval
        return self._send(
            settlement_account, "post_collateral", CollateralArgs(currency, amount_minor)
        )

    def withdraw_collateral(
        self, signer: Signer, currency: str, amount_minor: int
    ) -> TransactionResult:
        return self._send(signer, "withdraw_collateral", CollateralArgs(currency, amount_minor))

    def declare_default(self, settlement_agent: Signer, cycle_id: int) -> TransactionResult:
        return self._send(settlement_agent, "declare_default", CycleArgs(cycle_id))

    def settle(self, settlement_agent: Signer, cycle_id: int) -> TransactionResult:
        return self._send(settlement_agent, "settle", CycleArgs(cycle_id))

    # -- proven reads (one state value each; None: proven absent) --------------------------
    def _read(self, key: bytes, kind: type[Any], height: int | None) -> Any:
        return self._client.read_struct(PAYMENTS, key, kind, height=height)

    def institution(self, institution: str, *, height: int | None = None) -> Institution | None:
        result: Institution | None = self._read(institution_key(institution), Institution, height)
        return result

    def payment(self, payment_id: str, *, height: int | None = None) -> Payment | None:
        result: Payment | None = self._read(payment_key(payment_id), Payment, height)
        return result

    def refund_record(
        self, payment_id: str, refund_id: str, *, height: int | None = None
    ) -> Refund | None:
        result: Refund | None = self._read(refund_key(payment_id, refund_id), Refund, height)
        return result

    def cycle(self, cycle_id: int, *, height: int | None = None) -> Cycle | None:
        result: Cycle | None = self._read(cycle_key(cycle_id), Cycle, height)
        return result

    def cycle_totals(self, cycle_id: int, *, height: int | None = None) -> CycleTotals | None:
        result: CycleTotals | None = self._read(cycle_totals_key(cycle_id), CycleTotals, height)
        return result

    def participants(self, cycle_id: int, *, height: int | None = None) -> tuple[str, ...]:
        """The ids of the institutions with obligations in the cycle (proven; empty if none)."""
        proven = self._client.read_state(PAYMENTS, participants_key(cycle_id), height=height)
        if proven.value is None:
            return ()
        return decode(proven.value, tuple[str, ...], max_bytes=MAX_RESULT_BYTES)

    def position(
        self, cycle_id: int, institution: str, *, height: int | None = None
    ) -> Position | None:
        result: Position | None = self._read(position_key(cycle_id, institution), Position, height)
        return result

    def institution_cycle(
        self, cycle_id: int, institution: str, *, height: int | None = None
    ) -> InstitutionCycle | None:
        """An institution's running totals in a cycle: the head of its statement."""
        key = institution_cycle_key(cycle_id, institution)
        result: InstitutionCycle | None = self._read(key, InstitutionCycle, height)
        return result

    def flow(
        self, cycle_id: int, issuer: str, acquirer: str, *, height: int | None = None
    ) -> Flow | None:
        result: Flow | None = self._read(flow_key(cycle_id, issuer, acquirer), Flow, height)
        return result

    def entry(
        self, cycle_id: int, institution: str, sequence: int, *, height: int | None = None
    ) -> Entry | None:
        """The ``sequence``-th (from 0) statement entry of ``institution`` in the cycle."""
        result: Entry | None = self._read(entry_key(cycle_id, institution, sequence), Entry, height)
        return result

    def proven_positions(self, cycle_id: int) -> list[Position]:
        """Every participant's position, each proven at one height (one read per participant)."""
        height = self._client.read_state(PAYMENTS, cycle_key(cycle_id)).height
        positions = []
        for institution in self.participants(cycle_id, height=height):
            position = self.position(cycle_id, institution, height=height)
            if position is not None:
                positions.append(position)
        return positions

    def figures(self, cycle_id: int) -> CycleFigures:
        """Gross, net and netting efficiency of a closed cycle, from proven positions."""
        return cycle_figures(cycle_id, self.proven_positions(cycle_id))

    def proven_figures(
        self, cycle_id: int, *, height: int | None = None, min_height: int | None = None
    ) -> ProvenFigures | None:
        """The cycle's figures and timing as ``GET …/figures`` answers them (clearing house and
        settlement agent), every value behind them proven and the figures recomputed here
        (``ProvenFigures``); ``None`` is the cycle's proven absence."""
        path = f"/v1/payments/cycles/{cycle_id}/figures"
        params: dict[str, int] = {} if height is None else {"height": height}
        if min_height is not None:
            params["min_height"] = min_height
        answer, absent = self._client.answer_or_absence(path, params)
        proofs = answer.get("proofs") if not absent else {"cycle": answer.get("proof")}
        if not isinstance(proofs, dict):
            raise VerificationError("the figures carry no proofs")
        cycle_proof = self._client.proven_state_answer(
            proofs.get("cycle"), full_key(PAYMENTS, cycle_key(cycle_id)), height, min_height
        )
        if cycle_proof.value is None:
            if not absent:
                raise VerificationError("the figures are of a cycle proven absent")
            return None
        at = cycle_proof.height
        cycle = decode(cycle_proof.value, Cycle, max_bytes=MAX_RESULT_BYTES)
        members = self._client.proven_state_answer(
            proofs.get("participants"), full_key(PAYMENTS, participants_key(cycle_id)), at, None
        )
        participants: tuple[str, ...] = ()
        if members.value is not None:
            participants = decode(members.value, tuple[str, ...], max_bytes=MAX_RESULT_BYTES)
        position_proofs = proofs.get("positions")
        if (
            not isinstance(position_proofs, dict)
            or len(participants) > MAX_FIGURES_PARTICIPANTS
            or set(position_proofs) != set(participants)
        ):
            raise VerificationError("the figures do not prove each participant's position")
        positions = []
        for member in participants:
            key = full_key(PAYMENTS, position_key(cycle_id, member))
            proven = self._client.proven_state_answer(position_proofs[member], key, at, None)
            if proven.value is not None:
                positions.append(decode(proven.value, Position, max_bytes=MAX_RESULT_BYTES))
        times = self._header_times(cycle, answer.get("headers"))
        return ProvenFigures(
            cycle,
            participants,
            tuple(positions),
            cycle_figures(cycle_id, positions),
            cycle_timing(cycle, times),
            at,
            cycle_proof.time_ms,
            cycle_proof.state_root,
            times,
        )

    def _header_times(self, cycle: Cycle, views: Any) -> dict[int, int]:
        """The block times of the cycle's timing heights, from the certified headers listed
        (exactly one per height, in order)."""
        heights = timing_heights(cycle)
        if not isinstance(views, list) or len(views) != len(heights):
            raise VerificationError("the figures do not carry the headers of the cycle's timing")
        times = {}
        for wanted, view in zip(heights, views, strict=True):
            if not isinstance(view, dict):
                raise VerificationError("a header of the cycle's timing is not an object")
            header = self._client.proven_header(
                view.get("header_bytes"), view.get("certificate_bytes"), wanted
            )
            times[wanted] = header.time_ms
        return times

    def timing(self, cycle_id: int, *, cycle: Cycle | None = None) -> CycleTiming | None:
        """When the cycle opened, closed and settled and its settlement time (closing block to
        settling block), from the committed headers at the heights the cycle records, each
        checked against its commit certificate. ``cycle``: the record if already read (proven);
        ``None`` if there is no such cycle."""
        record = cycle if cycle is not None else self.cycle(cycle_id)
        if record is None:
            return None
        times = {height: self._client.header(height).time_ms for height in timing_heights(record)}
        return cycle_timing(record, times)

    # -- reports (documents the node builds from one reading; proven with ``save_report``) ----
    def settlement_pacs009(self, cycle_id: int) -> bytes:
        """The settled cycle's net positions as ISO 20022 ``pacs.009.001.12`` XML, one
        financial-institution credit transfer per net creditor (``docs/payments.md``).
        Refusals raise ``ClientError``: ``cycle_not_settled``, ``not_found``."""
        return self._client.raw_get(f"/v1/payments/cycles/{cycle_id}/settlement")

    def merchant_payouts_pacs008(self, cycle_id: int, institution: str) -> bytes:
        """An acquirer's payouts to its merchants for a settled cycle: ISO 20022
        ``pacs.008.001.13`` XML (``docs/payments.md``, "Merchant payouts"). Refusals raise
        ``ClientError``: ``unknown_institution``, ``cycle_not_settled``,
        ``not_acquirer_in_cycle``, ``no_merchant_payouts``, ``not_found``."""
        return self._client.raw_get(
            f"/v1/payments/cycles/{cycle_id}/merchant-payouts/{institution}"
        )

    def save_report(
        self,
        file: Path,
        cycle_id: int,
        *,
        report: str = "statement",
        institution: str | None = None,
        file_format: str = "csv",
    ) -> Verified:
        """Write a report — ``statement`` (``file_format`` json, csv or camt053),
        ``settlement`` (pacs009) or ``merchant-payouts`` (pacs008) — to ``file`` with its proof
        bundle next to it (``<file>.proofs.json``), after checking that the file is rebuilt
        from the proven state the bundle holds (``jinqiao.client.reports``, docs/proofs.md
        §12). ``jinqiao verify FILE --genesis`` checks the pair offline."""
        from jinqiao.client.reports import save_report

        request = ReportRequest(report, cycle_id, institution, file_format)
        return save_report(self._client, request, file)

    # -- unproven listings (contract queries against the head) -----------------------------
    def positions(self, cycle_id: int) -> list[dict[str, Any]]:
        """Every position of a closed cycle, as JSON (one query; **not proven**)."""
        answer = self._client.query(PAYMENTS, "positions", cycle_id=cycle_id)
        positions: list[dict[str, Any]] = answer["positions"]
        return positions

    def entries(
        self, cycle_id: int, institution: str, *, start: int = 0, limit: int = 500
    ) -> dict[str, Any]:
        """A page of an institution's entries (up to 500; ``next_start`` is ``None`` after the
        last), as JSON (a query; **not proven** — prove an entry with ``entry``)."""
        page: dict[str, Any] = self._client.query(
            PAYMENTS,
            "entries",
            cycle_id=cycle_id,
            institution=institution,
            start=start,
            limit=limit,
        )
        return page

    def payment_status(self, payment_id: str) -> dict[str, Any]:
        """The payment and the settlement of its capture (``not_cleared``, ``pending``,
        ``settled``, ``unwound``), as JSON (a query; **not proven**)."""
        view: dict[str, Any] = self._client.query(PAYMENTS, "payment", payment_id=payment_id)
        return view


__all__ = ["PaymentsClient", "ProvenFigures"]
