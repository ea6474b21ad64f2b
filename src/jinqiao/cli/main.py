"""The ``jinqiao`` command: one module per command group (``jinqiao.cli.<group>``)."""

from __future__ import annotations

import typer

from jinqiao.cli import (
    account,
    aml,
    audit,
    bench,
    contract,
    credit,
    demo,
    explorer,
    governance,
    index,
    keys,
    node,
    payments,
    query,
    relay,
    scf,
    token,
)
from jinqiao.cli.extras import run_reporting_missing_extras

app = typer.Typer(
    help="jinqiao: a permissioned blockchain for financial institutions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tx_app = typer.Typer(help="Send transactions.", no_args_is_help=True)
tx_app.add_typer(token.token_app, name="token")
tx_app.add_typer(account.account_app, name="account")
tx_app.add_typer(governance.governance_app, name="governance")

app.command("init")(node.init)
app.add_typer(node.node_app, name="node")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(tx_app, name="tx")
app.add_typer(query.query_app, name="query")
app.command("status")(query.status)
app.add_typer(payments.payments_app, name="payments")
app.add_typer(aml.aml_app, name="aml")
app.command("demo")(demo.demo)
app.command("sim")(demo.sim)
app.add_typer(bench.bench_app, name="bench")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(scf.scf_app, name="scf")
app.add_typer(credit.credit_app, name="credit")
app.add_typer(index.index_app, name="index")
app.command("export")(index.export)
app.command("explorer-hash")(explorer.explorer_hash)
app.add_typer(contract.contract_app, name="contract")
app.command("relay")(relay.relay)


def main() -> None:
    run_reporting_missing_extras(app)


# Appended (other command groups add theirs above): completing a transaction of unknown outcome.
from jinqiao.cli import transactions  # noqa: E402

tx_app.command("resend")(transactions.resend)

# Appended: checking a saved answer offline (docs/proofs.md §11).
from jinqiao.cli import verify  # noqa: E402

app.command("verify")(verify.verify)

# Appended: the genesis ceremony across organizations (docs/operations.md).
from jinqiao.cli import ceremony  # noqa: E402

app.add_typer(ceremony.ceremony_app, name="ceremony")

# Appended: the approval service, a second factor (docs/keys.md "Second factor").
from jinqiao.cli import approval  # noqa: E402

app.add_typer(approval.approval_app, name="approval")
