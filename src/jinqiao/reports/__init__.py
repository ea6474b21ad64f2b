"""Off-chain reports over the payments contract's data: statements (JSON, CSV, ISO 20022
camt.053), settlement instructions (ISO 20022 pacs.009 between institutions, pacs.008 from an
acquirer to its merchants), reconciliation of an institution's own records against its
statement, and a chart of a cycle's positions (its figures are
``jinqiao.apps.payments.figures``). Anti-money-laundering reports over committed blocks are
``jinqiao.reports.aml`` and ``jinqiao.reports.aml_signed`` (docs/aml.md).

Pure functions over the contract's query results: the API and CLI read the data (with proofs)
and call these; nothing here talks to a node. ``docs/payments.md`` describes the formats.
"""

from jinqiao.reports.figures import (
    positions_chart_png_bytes,
)
from jinqiao.reports.iso20022 import (
    SettlementMovement,
    merchant_payouts_to_pacs008,
    settlement_movements,
    settlement_to_pacs009,
    statement_to_camt053,
)
from jinqiao.reports.money import format_minor, parse_decimal
from jinqiao.reports.payouts import MerchantPayout, merchant_payouts, require_settled
from jinqiao.reports.reconcile import (
    Break,
    BreakReport,
    InstitutionRecord,
    break_report_to_csv,
    break_report_to_json,
    parse_reconciliation_csv,
    reconcile_csv,
    reconcile_statement,
    require_participant,
)
from jinqiao.reports.statement import (
    Statement,
    StatementLine,
    StatementPosition,
    StatementProof,
    StatementTotals,
    build_statement,
    statement_to_csv,
    statement_to_json,
)

__all__ = [
    "Break",
    "BreakReport",
    "InstitutionRecord",
    "MerchantPayout",
    "SettlementMovement",
    "Statement",
    "StatementLine",
    "StatementPosition",
    "StatementProof",
    "StatementTotals",
    "break_report_to_csv",
    "break_report_to_json",
    "build_statement",
    "format_minor",
    "merchant_payouts",
    "merchant_payouts_to_pacs008",
    "parse_decimal",
    "parse_reconciliation_csv",
    "positions_chart_png_bytes",
    "reconcile_csv",
    "reconcile_statement",
    "require_participant",
    "require_settled",
    "settlement_movements",
    "settlement_to_pacs009",
    "statement_to_camt053",
    "statement_to_csv",
    "statement_to_json",
]
