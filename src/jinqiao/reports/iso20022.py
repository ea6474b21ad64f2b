"""ISO 20022 documents for statements and settlements, built with ``pyiso20022``'s generated
models and serialized by ``xsdata``:

* ``statement_to_camt053`` — a ``camt.053.001.11`` bank-to-customer statement of an
  institution's lines in a cycle (one ``Ntry`` per line, its fees as charges);
* ``settlement_to_pacs009`` — ``pacs.009.001.12`` financial-institution credit transfers, one
  per money movement of a settled cycle: each pay-in from a debtor to the escrow, each payout
  from the escrow;
* ``merchant_payouts_to_pacs008`` — a ``pacs.008.001.13`` FI-to-FI customer credit transfer
  from an acquirer to its merchants: one transaction per merchant owed money for a settled cycle
  (``payouts.merchant_payouts``).

Amounts are decimal strings made from integer minor units (``money.format_minor``) and handed to
the models as ``Decimal`` parsed from that string: exact, never through a float. Identifiers
longer than the 35 characters ISO allows are shortened to a prefix plus a digest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
from pyiso20022.camt.camt_053_001_11 import camt_053_001_11 as camt
from pyiso20022.pacs.pacs_008_001_13 import pacs_008_001_13 as pacs008
from pyiso20022.pacs.pacs_009_001_12 import pacs_009_001_12 as pacs
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDate, XmlDateTime

from jinqiao.apps.payments.model import PENDING, SETTLED, Cycle, Position
from jinqiao.core.errors import InvalidInput
from jinqiao.reports.money import check_scale, format_minor
from jinqiao.reports.payouts import MerchantPayout, require_settled
from jinqiao.reports.statement import CREDIT, Statement, StatementLine

CAMT_053_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.11"
PACS_009_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.009.001.12"
PACS_008_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.13"
ISSUER = "JINQIAO"
"""The issuer of the proprietary codes and identifiers in these documents."""
MAX_ISO_TEXT = 35
ISO_TOTAL_DIGITS = 18
ISO_FRACTION_DIGITS = 5
ENTRY_STATUS_CODES = {SETTLED: "BOOK", PENDING: "PDNG"}
"""camt entry status per line status; ``unwound`` lines are ``INFO`` (not booked)."""
ESCROW = "payments-escrow"

_CURRENCY = re.compile(r"[A-Z]{3}")


class SettlementMovement(msgspec.Struct, frozen=True, kw_only=True):
    """One movement of money in a cycle's settlement: ``funding`` from a debtor's settlement
    account into the escrow, or ``payout`` from the escrow to an institution."""

    kind: str
    debtor: str
    creditor: str
    amount_minor: int


def short_identifier(text: str, limit: int = MAX_ISO_TEXT) -> str:
    """``text`` if it fits in ``limit`` characters, else a prefix and 8 hex digits of its
    SHA-256 (stable, and distinct for distinct texts in practice)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9]}-{digest}"


def iso_amount(amount_minor: int, scale: int) -> Decimal:
    """A non-negative amount as ISO 20022 needs it (at most 18 digits, 5 of them decimals)."""
    check_scale(scale)
    text = format_minor(amount_minor, scale)
    digits = text.replace(".", "").lstrip("0")
    if amount_minor < 0 or scale > ISO_FRACTION_DIGITS or len(digits) > ISO_TOTAL_DIGITS:
        raise InvalidInput(
            f"{text} does not fit an ISO 20022 amount (0 or more, 18 digits, 5 decimals)"
        )
    return Decimal(text)


def _check_currency(currency: str) -> None:
    if not _CURRENCY.fullmatch(currency):
        raise InvalidInput(f"ISO 20022 needs an ISO 4217 currency code, not {currency!r}")


def _datetime(time_ms: int) -> XmlDateTime:
    moment = datetime.fromtimestamp(time_ms // 1000, tz=UTC).replace(
        microsecond=(time_ms % 1000) * 1000
    )
    return XmlDateTime.from_datetime(moment)


def _date(time_ms: int) -> XmlDate:
    return XmlDate.from_date(datetime.fromtimestamp(time_ms // 1000, tz=UTC).date())


def _serialize(document: object, namespace: str) -> bytes:
    serializer = XmlSerializer(config=SerializerConfig(indent="  ", xml_declaration=True))
    text: str = serializer.render(document, ns_map={None: namespace})
    return text.encode()


# -- camt.053 ---------------------------------------------------------------------------------


def _camt_amount(amount_minor: int, statement: Statement) -> camt.ActiveOrHistoricCurrencyAndAmount:
    return camt.ActiveOrHistoricCurrencyAndAmount(
        value=iso_amount(amount_minor, statement.scale), ccy=statement.currency
    )


def _credit_debit(is_credit: bool) -> camt.CreditDebitCode:
    return camt.CreditDebitCode.CRDT if is_credit else camt.CreditDebitCode.DBIT


def _camt_balance(
    code: str, net_minor: int, statement: Statement, day: XmlDate
) -> camt.CashBalance8:
    return camt.CashBalance8(
        tp=camt.BalanceType13(cd_or_prtry=camt.BalanceType10Choice(cd=code)),
        amt=_camt_amount(abs(net_minor), statement),
        cdt_dbt_ind=_credit_debit(net_minor >= 0),
        dt=camt.DateAndDateTime2Choice(dt=day),
    )


def _camt_entry(line: StatementLine, statement: Statement) -> camt.ReportEntry13:
    charges = None
    if line.fee_minor != 0:
        charges = camt.Charges6(
            rcrd=[
                camt.ChargesRecord3(
                    amt=_camt_amount(abs(line.fee_minor), statement),
                    cdt_dbt_ind=_credit_debit(line.fee_minor < 0),
                )
            ]
        )
    details = (
        f"payment {line.payment_id}; {line.kind}"
        + (f" {line.reference}" if line.reference else "")
        + f"; {line.side} side; counterparty {line.counterparty}; height {line.height};"
        + f" status {line.status}"
    )
    reference = f"{statement.cycle_id}/{line.sequence}"
    return camt.ReportEntry13(
        ntry_ref=reference,
        amt=_camt_amount(line.amount_minor, statement),
        cdt_dbt_ind=_credit_debit(line.direction == CREDIT),
        sts=camt.EntryStatus1Choice(cd=ENTRY_STATUS_CODES.get(line.status, "INFO")),
        acct_svcr_ref=reference,
        bk_tx_cd=camt.BankTransactionCodeStructure4(
            prtry=camt.ProprietaryBankTransactionCodeStructure1(cd=line.kind, issr=ISSUER)
        ),
        chrgs=charges,
        ntry_dtls=[
            camt.EntryDetails12(
                tx_dtls=[
                    camt.EntryTransaction13(
                        refs=camt.TransactionReferences6(
                            acct_svcr_ref=reference,
                            end_to_end_id=short_identifier(line.payment_id),
                            tx_id=short_identifier(
                                f"{line.payment_id}/{line.kind}/{line.reference}"
                            ),
                        ),
                        addtl_tx_inf=details[:500],
                    )
                ]
            )
        ],
    )


def statement_to_camt053(statement: Statement, *, created_time_ms: int) -> bytes:
    """The statement as a ``camt.053.001.11`` document (UTF-8 XML). The account is the
    institution (``Othr/Id``), the opening balance 0 and the closing balance its net position
    (``CLBD`` once the cycle has closed, else ``ITBD``: interim, credit minus debit so far);
    lines settled are ``BOOK``, pending ``PDNG``, unwound ``INFO``. ``created_time_ms`` is the
    creation time (the caller's clock or the block's)."""
    _check_currency(statement.currency)
    day = _date(created_time_ms)
    identifier = short_identifier(f"JQ-STMT-{statement.cycle_id}-{statement.institution}")
    if statement.position is not None:
        closing = _camt_balance("CLBD", statement.position.net_minor, statement, day)
    else:
        interim = statement.totals.credit_minor - statement.totals.debit_minor
        closing = _camt_balance("ITBD", interim, statement, day)
    account_statement = camt.AccountStatement12(
        id=identifier,
        elctrnc_seq_nb=Decimal(statement.cycle_id),
        cre_dt_tm=_datetime(created_time_ms),
        acct=camt.CashAccount41(
            id=camt.AccountIdentification4Choice(
                othr=camt.GenericAccountIdentification1(
                    id=short_identifier(statement.institution, 34), issr=ISSUER
                )
            ),
            ccy=statement.currency,
        ),
        bal=[_camt_balance("OPBD", 0, statement, day), closing],
        txs_summry=camt.TotalTransactions6(
            ttl_ntries=camt.NumberAndSumOfTransactions4(
                nb_of_ntries=str(len(statement.lines)),
                sum=iso_amount(sum(line.amount_minor for line in statement.lines), statement.scale),
            )
        ),
        ntry=[_camt_entry(line, statement) for line in statement.lines],
        addtl_stmt_inf=(
            f"jinqiao clearing cycle {statement.cycle_id} ({statement.cycle_status},"
            f" round {statement.cycle_round}) of {statement.institution}"
        )[:500],
    )
    document = camt.Document(
        bk_to_cstmr_stmt=camt.BankToCustomerStatementV11(
            grp_hdr=camt.GroupHeader81(msg_id=identifier, cre_dt_tm=_datetime(created_time_ms)),
            stmt=[account_statement],
        )
    )
    return _serialize(document, CAMT_053_NAMESPACE)


# -- pacs.009 ---------------------------------------------------------------------------------


def settlement_movements(
    cycle: Cycle, positions: Sequence[Position], *, escrow: str = ESCROW
) -> tuple[SettlementMovement, ...]:
    """The movements of a settled cycle, from its positions: each institution's pay-in
    (``funded_minor`` less the collateral drawn, which was already in the escrow) and each
    payout (``paid_out_minor``), pay-ins first, by institution. Raises ``InvalidInput``
    (``cycle_not_settled``) for a cycle that has not settled."""
    require_settled(cycle.cycle_id, cycle.status)
    ordered = sorted(positions, key=lambda position: position.institution)
    funding = [
        SettlementMovement(
            kind="funding",
            debtor=position.institution,
            creditor=escrow,
            amount_minor=position.funded_minor - position.collateral_used_minor,
        )
        for position in ordered
        if position.funded_minor > position.collateral_used_minor
    ]
    payouts = [
        SettlementMovement(
            kind="payout",
            debtor=escrow,
            creditor=position.institution,
            amount_minor=position.paid_out_minor,
        )
        for position in ordered
        if position.paid_out_minor > 0
    ]
    return (*funding, *payouts)


def _institution(identifier: str) -> pacs.BranchAndFinancialInstitutionIdentification8:
    return pacs.BranchAndFinancialInstitutionIdentification8(
        fin_instn_id=pacs.FinancialInstitutionIdentification23(
            nm=identifier[:140],
            othr=pacs.GenericFinancialIdentification1(id=short_identifier(identifier), issr=ISSUER),
        )
    )


def settlement_to_pacs009(
    cycle: Cycle,
    positions: Sequence[Position],
    *,
    scale: int,
    created_time_ms: int,
    settled_time_ms: int,
    escrow: str = ESCROW,
) -> bytes:
    """A ``pacs.009.001.12`` message (UTF-8 XML) with one credit transfer per movement of the
    settled ``cycle`` (``settlement_movements``), settled through the clearing system
    (``CLRG``) on the date of ``settled_time_ms``. Raises ``InvalidInput`` if the cycle has not
    settled, moved nothing, or its currency is not an ISO 4217 code."""
    _check_currency(cycle.currency)
    movements = settlement_movements(cycle, positions, escrow=escrow)
    if not movements:
        raise InvalidInput(f"cycle {cycle.cycle_id} moved no money", cycle_id=cycle.cycle_id)
    day = _date(settled_time_ms)
    prefix = f"JQ-C{cycle.cycle_id}"
    transactions = [
        pacs.CreditTransferTransaction67(
            pmt_id=pacs.PaymentIdentification13(
                instr_id=short_identifier(f"{prefix}-{number}"),
                end_to_end_id=short_identifier(f"{prefix}-{number}"),
                tx_id=short_identifier(f"{prefix}-R{cycle.round}-{number}"),
            ),
            intr_bk_sttlm_amt=pacs.ActiveCurrencyAndAmount(
                value=iso_amount(movement.amount_minor, scale), ccy=cycle.currency
            ),
            intr_bk_sttlm_dt=day,
            dbtr=_institution(movement.debtor),
            cdtr=_institution(movement.creditor),
            rmt_inf=pacs.RemittanceInformation2(
                ustrd=[f"jinqiao clearing cycle {cycle.cycle_id} {movement.kind}"]
            ),
        )
        for number, movement in enumerate(movements, start=1)
    ]
    total = sum(movement.amount_minor for movement in movements)
    document = pacs.Document(
        ficdt_trf=pacs.FinancialInstitutionCreditTransferV12(
            grp_hdr=pacs.GroupHeader131(
                msg_id=short_identifier(f"{prefix}-SETTLEMENT"),
                cre_dt_tm=_datetime(created_time_ms),
                nb_of_txs=str(len(transactions)),
                ctrl_sum=iso_amount(total, scale),
                intr_bk_sttlm_dt=day,
                sttlm_inf=pacs.SettlementInstruction15(
                    sttlm_mtd=pacs.SettlementMethod1Code.CLRG,
                    clr_sys=pacs.ClearingSystemIdentification3Choice(prtry=ISSUER),
                ),
            ),
            cdt_trf_tx_inf=transactions,
        )
    )
    return _serialize(document, PACS_009_NAMESPACE)


# -- pacs.008 ---------------------------------------------------------------------------------

MAX_ISO_NAME = 140


def _agent(identifier: str) -> pacs008.BranchAndFinancialInstitutionIdentification8:
    return pacs008.BranchAndFinancialInstitutionIdentification8(
        fin_instn_id=pacs008.FinancialInstitutionIdentification23(
            nm=identifier[:MAX_ISO_NAME],
            othr=pacs008.GenericFinancialIdentification1(
                id=short_identifier(identifier), issr=ISSUER
            ),
        )
    )


def _party(name: str, identifier: str, issuer: str) -> pacs008.PartyIdentification272:
    return pacs008.PartyIdentification272(
        nm=name[:MAX_ISO_NAME],
        id=pacs008.Party52Choice(
            org_id=pacs008.OrganisationIdentification39(
                othr=[
                    pacs008.GenericOrganisationIdentification3(
                        id=identifier, issr=short_identifier(issuer)
                    )
                ]
            )
        ),
    )


def _payout_remittance(payout: MerchantPayout, statement: Statement) -> list[str]:
    def amount(minor: int) -> str:
        return format_minor(minor, statement.scale)

    return [
        f"jinqiao clearing cycle {statement.cycle_id} payout to merchant {payout.merchant_id}"[
            :MAX_ISO_NAME
        ],
        (
            f"captured {amount(payout.captured_minor)}, represented "
            f"{amount(payout.represented_minor)}, refunded {amount(payout.refunded_minor)}, "
            f"charged back {amount(payout.charged_back_minor)} {statement.currency}"
        )[:MAX_ISO_NAME],
        f"acquirer fees {amount(payout.acquirer_fee_minor)} {statement.currency}: not deducted"[
            :MAX_ISO_NAME
        ],
    ]


def merchant_payouts_to_pacs008(
    statement: Statement,
    payouts: Sequence[MerchantPayout],
    *,
    created_time_ms: int,
    settled_time_ms: int,
) -> bytes:
    """A ``pacs.008.001.13`` message (UTF-8 XML): the acquirer of ``statement`` (a settled
    cycle's) pays each merchant of ``payouts`` its ``amount_minor``, one credit transfer per
    merchant owed more than 0. The acquirer is the debtor, the debtor agent, the creditor agent
    (it holds the merchant's payout details off chain) and the instructing agent; each merchant is
    a creditor identified by its merchant id (issued by the acquirer). Settlement by the
    instructed agent (``INDA``) on the date of ``settled_time_ms`` (the settling block's time),
    charges borne by the debtor (``DEBT``: the merchant receives the whole amount); the group
    header's ``NbOfTxs``, ``CtrlSum`` and ``TtlIntrBkSttlmAmt`` count and sum the transactions.
    Raises ``InvalidInput``: ``cycle_not_settled``, ``no_merchant_payouts`` when no merchant is
    owed anything, ``invalid_input`` for what ISO 20022 cannot carry."""
    require_settled(statement.cycle_id, statement.cycle_status)
    _check_currency(statement.currency)
    owed = [payout for payout in payouts if payout.amount_minor > 0]
    if not owed:
        raise InvalidInput(
            f"{statement.institution} owes no merchant anything for cycle {statement.cycle_id}",
            code="no_merchant_payouts",
            institution=statement.institution,
            cycle_id=statement.cycle_id,
        )
    acquirer = statement.institution
    prefix = f"JQ-C{statement.cycle_id}"
    transactions = [
        pacs008.CreditTransferTransaction70(
            pmt_id=pacs008.PaymentIdentification13(
                instr_id=short_identifier(f"{prefix}-PO-{number}"),
                end_to_end_id=short_identifier(f"{prefix}-{acquirer}-{payout.merchant_id}"),
                tx_id=short_identifier(f"{prefix}-{acquirer}-PO-{number}"),
            ),
            intr_bk_sttlm_amt=pacs008.ActiveCurrencyAndAmount(
                value=iso_amount(payout.amount_minor, statement.scale), ccy=statement.currency
            ),
            chrg_br=pacs008.ChargeBearerType1Code.DEBT,
            dbtr=_party(acquirer, acquirer, ISSUER),
            dbtr_agt=_agent(acquirer),
            cdtr_agt=_agent(acquirer),
            cdtr=_party(payout.name or payout.merchant_id, payout.merchant_id, acquirer),
            rmt_inf=pacs008.RemittanceInformation22(ustrd=_payout_remittance(payout, statement)),
        )
        for number, payout in enumerate(owed, start=1)
    ]
    total = iso_amount(sum(payout.amount_minor for payout in owed), statement.scale)
    document = pacs008.Document(
        fito_ficstmr_cdt_trf=pacs008.FitoFicustomerCreditTransferV13(
            grp_hdr=pacs008.GroupHeader131(
                msg_id=short_identifier(f"{prefix}-PAYOUTS-{acquirer}"),
                cre_dt_tm=_datetime(created_time_ms),
                nb_of_txs=str(len(transactions)),
                ctrl_sum=total,
                ttl_intr_bk_sttlm_amt=pacs008.ActiveCurrencyAndAmount(
                    value=total, ccy=statement.currency
                ),
                intr_bk_sttlm_dt=_date(settled_time_ms),
                sttlm_inf=pacs008.SettlementInstruction15(
                    sttlm_mtd=pacs008.SettlementMethod1Code.INDA
                ),
                instg_agt=_agent(acquirer),
            ),
            cdt_trf_tx_inf=transactions,
        )
    )
    return _serialize(document, PACS_008_NAMESPACE)
