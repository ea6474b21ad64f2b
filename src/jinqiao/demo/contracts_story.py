"""``jinqiao demo``'s contracts story (docs/contracts.md), through the SDK on the demo network: a
member (ecfin) proposes the escrow example; one admin of each organization approves its exact
hash until the governance quorum commits it; banks approve the escrow's address on the token and
open escrows, which pull the CNY into the contract's own balance, and release them, which pays it
out to the payee (the balances read with proofs after each step); version 2 — the
same package with a method to extend a deadline and a migration — goes through the same path and
its migration runs once at its commit; then governance pauses the contract, a call is refused
``contract_paused``, and governance resumes it. The loan example goes through the same approvals;
bank-a lends to ecfin (the principal moves from bank-a's treasury to ecfin under the allowance
bank-a gave the loan), a repayment of the wrong amount is rejected and the first installment,
the amount the contract's own query says is due, is repaid to bank-a the same way.

Version 2 is made here from the shipped example (``escrow_version_2``) rather than shipped as a
second copy of it: what an upgrade changes is then exactly the text this module adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.panel import Panel
from rich.table import Table

from jinqiao.client import Client, ClientError, TransactionResult
from jinqiao.core.crypto import Signer
from jinqiao.demo import DemoFailed
from jinqiao.demo.credit import ok
from jinqiao.terminal import console, format_minor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "contracts"
"""The example packages of the source tree (the demo runs from a checkout: README)."""
ESCROW_EXAMPLE = EXAMPLES / "escrow"
LOAN_EXAMPLE = EXAMPLES / "loan"
CONTRACT = "escrow"
PROPOSER = "ecfin"
PAUSER = "clearing"
"""The organizations whose admins propose the package and the pause."""
DAY_MS = 86_400_000
CNY = "CNY"
LOAN_ID = "loan-1"
LOAN_PRINCIPAL_MINOR = 3_000_000
LOAN_INSTALLMENTS = 3
LOAN_PERIOD_MS = 30 * DAY_MS
LOAN_RATE_BPS = 50
"""The demo's loan: CNY 30,000.00 in three monthly installments, 0.50% interest a month."""

VERSION_2_MANIFEST = """
[methods.extend]
args = { escrow_id = "str", extra_ms = "int" }

[methods.migrate]
roles = ["contract"]
"""
VERSION_2_METHODS = """
    @method
    def extend(self, ctx, args):
        escrow = self.open_escrow(ctx, args.escrow_id)
        if ctx.sender != escrow["payer"]:
            ctx.reject("not_payer", "only the payer extends the deadline")
        if not 0 < args.extra_ms <= MAX_TIMEOUT_MS:
            ctx.reject("invalid_timeout", "an extension is up to 90 days")
        escrow["deadline_ms"] = escrow["deadline_ms"] + args.extra_ms
        ctx.state.save(escrow_key(args.escrow_id), escrow)
        ctx.emit("EscrowExtended", escrow_id=args.escrow_id, deadline_ms=escrow["deadline_ms"])

    @method(roles=("contract",))
    def migrate(self, ctx, args):
        ctx.state.save(b"schema", 2)
        ctx.emit("EscrowMigrated", schema=2)
"""


def escrow_version_2(manifest: str, source: str) -> tuple[str, str]:
    """Version 2.0.0 of the escrow package: ``extend`` (the payer moves the deadline on) and
    ``migrate``, the migration the lifecycle runs once when it replaces version 1. The
    contract class ends the example's source, so its new methods are appended to it."""
    version_line = 'version = "1.0.0"'
    if version_line not in manifest or not source.rstrip().endswith(")"):
        raise DemoFailed("the escrow example changed shape; update demo/contracts_story.py")
    manifest = manifest.replace(version_line, 'version = "2.0.0"\nmigration = "migrate"', 1)
    return manifest.rstrip() + "\n" + VERSION_2_MANIFEST, source.rstrip() + "\n" + VERSION_2_METHODS


@dataclass
class Steps:
    """The story's transactions, one row each: who sent what, where it committed, what came
    out."""

    table: Table = field(
        default_factory=lambda: Table(
            title="Members' contracts: deployed, called, upgraded, paused"
        )
    )
    last_height: int = 0
    last_balances: dict[str, int] = field(default_factory=dict)
    """The CNY balances of the last ``balances`` row, by holder."""

    def __post_init__(self) -> None:
        self.table.add_column("step")
        self.table.add_column("who")
        self.table.add_column("height", justify="right")
        self.table.add_column("outcome")

    def add(self, step: str, who: str, result: TransactionResult) -> TransactionResult:
        self.table.add_row(step, who, str(result.height), describe(result))
        self.last_height = max(self.last_height, result.height)
        return result

    def add_votes(self, step: str, voters: list[str], results: list[TransactionResult]) -> None:
        """One row for a round of approvals, one transaction per organization: the outcome of
        the last, the one that reached the quorum."""
        heights = f"{results[0].height}..{results[-1].height}"
        self.table.add_row(step, f"{len(voters)} admins", heights, describe(results[-1]))
        self.last_height = max(self.last_height, results[-1].height)

    def balances(
        self,
        client: Client,
        step: str,
        holders: Mapping[str, bytes],
        moved: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        """A line of CNY balances read with proofs at the last step's height or later (printed
        as the story goes, before the steps' table); with ``moved``, each holder's change since
        the previous line must be exactly that (else ``DemoFailed``: the money did not move as
        the contract says)."""
        amounts = {
            name: client.token.balance(CNY, address, min_height=self.last_height)
            for name, address in holders.items()
        }
        for name, change_minor in (moved or {}).items():
            before = self.last_balances.get(name)
            if before is None or amounts[name] - before != change_minor:
                raise DemoFailed(
                    f"{step}: {name} holds {format_minor(amounts[name], 2)} CNY, expected a "
                    f"change of {format_minor(change_minor, 2)} CNY"
                )
        self.last_balances.update(amounts)
        shown = ", ".join(f"{name} {format_minor(amount, 2)}" for name, amount in amounts.items())
        console.print(f"{step} (CNY, proven at height {self.last_height}): {shown}")
        return amounts

    def refused(self, step: str, who: str, error: ClientError) -> None:
        """A transaction refused at admission: not on chain, nothing changed."""
        self.table.add_row(step, who, "—", f"[red]{error.code}[/] at admission (not on chain)")


def describe(result: TransactionResult) -> str:
    """The receipt in a cell: ok or the rejection code, the events of the contracts called
    (governance's own are left out), and the steps used."""
    events = ", ".join(
        event.name for event in result.receipt.events if event.contract != "governance"
    )
    outcome = "ok" if result.ok else f"[red]{result.code}[/]"
    if events:
        outcome += f" — {events}"
    return outcome + f" ({result.receipt.steps_used} steps)"


def run_contracts_story(
    client: Client, keys: Callable[[str], Signer], admins: Mapping[str, str]
) -> None:
    """The story on the demo network: ``keys`` loads an account's key, ``admins`` maps every
    organization to one of its admin accounts (each organization approves for itself)."""
    console.print(Panel.fit("[bold]contracts[/] — a member's escrow and a consortium loan"))
    manifest, source = read_example(ESCROW_EXAMPLE)
    steps = Steps()
    payer_a, payer_b = keys("bank-a-treasury"), keys("bank-b-treasury")
    payee = keys("ecfin-settlement").address
    deploy(client, steps, keys, admins, manifest, source)
    calls = client.contracts
    holders = {"escrow": calls.address(CONTRACT), "ecfin": payee}
    steps.balances(client, "balances before", holders)
    for escrow_id, payer, who in (("demo-1", payer_a, "bank-a"), ("demo-2", payer_b, "bank-b")):
        steps.add(
            "approve the escrow's address for 5,000.00 CNY",
            who,
            ok(client.token.approve(payer, CNY, holders["escrow"], 500_000), "approve"),
        )
        steps.add(
            f"open {escrow_id} (5,000.00 CNY to ecfin, 1 day)",
            who,
            ok(
                calls.call(
                    payer,
                    manifest,
                    "open",
                    escrow_id=escrow_id,
                    payee=payee,
                    amount_minor=500_000,
                    timeout_ms=DAY_MS,
                ),
                "open",
            ),
        )
    steps.balances(client, "balances: both escrows open", holders, {"escrow": 1_000_000})
    steps.add(
        "release demo-1",
        "bank-a",
        ok(calls.call(payer_a, manifest, "release", escrow_id="demo-1"), "release"),
    )
    steps.balances(
        client, "balances: demo-1 paid to ecfin", holders, {"escrow": -500_000, "ecfin": 500_000}
    )
    try:
        calls.call(
            keys("regulator-admin"),
            manifest,
            "open",
            escrow_id="demo-3",
            payee=payee,
            amount_minor=1,
            timeout_ms=DAY_MS,
        )
    except ClientError as refused:
        steps.refused("open by the regulator (no bank role)", "regulator", refused)
    else:
        raise DemoFailed("the regulator opened an escrow; the manifest's roles did not apply")
    manifest_2, source_2 = escrow_version_2(manifest, source)
    deploy(client, steps, keys, admins, manifest_2, source_2)
    steps.add(
        "extend demo-2 by a day (v2)",
        "bank-b",
        ok(
            calls.call(payer_b, manifest_2, "extend", escrow_id="demo-2", extra_ms=DAY_MS), "extend"
        ),
    )
    governance_pause(client, steps, keys, admins, paused=True)
    paused = steps.add(
        "release demo-2 while paused",
        "bank-b",
        calls.call(payer_b, manifest_2, "release", escrow_id="demo-2"),
    )
    if paused.code != "contract_paused":
        raise DemoFailed(f"a call to the paused contract ended {paused.code}, not contract_paused")
    governance_pause(client, steps, keys, admins, paused=False)
    steps.add(
        "release demo-2 after resume",
        "bank-b",
        ok(calls.call(payer_b, manifest_2, "release", escrow_id="demo-2"), "release"),
    )
    steps.balances(
        client, "balances: demo-2 paid to ecfin", holders, {"escrow": -500_000, "ecfin": 500_000}
    )
    outstanding_minor = run_loan(client, steps, keys, admins)
    console.print(steps.table)
    show_proven(client, manifest_2, source_2)
    show_loan_due(client, outstanding_minor)


def read_example(directory: Path) -> tuple[str, str]:
    """An example package's manifest and source."""
    if not directory.is_dir():
        raise DemoFailed(f"the example {directory.name} is not at {directory}; run from a checkout")
    return (directory / "contract.toml").read_text(), (directory / "contract.py").read_text()


def run_loan(
    client: Client, steps: Steps, keys: Callable[[str], Signer], admins: Mapping[str, str]
) -> int:
    """The loan example deployed like the escrow; bank-a lends to ecfin; a repayment of the
    wrong amount is rejected on chain; ecfin repays the first installment, the amount the
    contract's ``due`` query, run by the SDK on proven state, says. What is outstanding after
    that installment (its ``InstallmentPaid``)."""
    manifest, source = read_example(LOAN_EXAMPLE)
    deploy(client, steps, keys, admins, manifest, source)
    lender, borrower = keys("bank-a-treasury"), keys("ecfin-settlement")
    calls = client.contracts
    loan_address = calls.address("loan")
    holders = {"bank-a": lender.address, "ecfin": borrower.address}
    steps.balances(client, "balances before the loan", holders)
    steps.add(
        f"approve the loan's address for {format_minor(LOAN_PRINCIPAL_MINOR, 2)} CNY",
        "bank-a",
        ok(client.token.approve(lender, CNY, loan_address, LOAN_PRINCIPAL_MINOR), "approve"),
    )
    steps.add(
        f"originate {LOAN_ID} ({format_minor(LOAN_PRINCIPAL_MINOR, 2)} CNY, "
        f"{LOAN_INSTALLMENTS} months, {LOAN_RATE_BPS} bps)",
        "bank-a",
        ok(
            calls.call(
                lender,
                manifest,
                "originate",
                loan_id=LOAN_ID,
                borrower=borrower.address,
                principal_minor=LOAN_PRINCIPAL_MINOR,
                installments=LOAN_INSTALLMENTS,
                period_ms=LOAN_PERIOD_MS,
                rate_bps=LOAN_RATE_BPS,
            ),
            "originate",
        ),
    )
    principal = LOAN_PRINCIPAL_MINOR
    steps.balances(
        client, "balances: principal disbursed", holders, {"bank-a": -principal, "ecfin": principal}
    )
    share_minor, interest_minor, _, _ = client.proven_query("loan", "due", loan_id=LOAN_ID).result
    wrong = steps.add(
        f"repay {format_minor(share_minor, 2)} CNY (no interest)",
        "ecfin",
        calls.call(borrower, manifest, "repay", loan_id=LOAN_ID, amount_minor=share_minor),
    )
    if wrong.code != "wrong_amount":
        raise DemoFailed(f"a repayment short of its interest ended {wrong.code}, not wrong_amount")
    installment_minor = share_minor + interest_minor
    steps.add(
        f"approve the loan's address for {format_minor(installment_minor, 2)} CNY",
        "ecfin",
        ok(client.token.approve(borrower, CNY, loan_address, installment_minor), "approve"),
    )
    paid = steps.add(
        f"repay installment 1: {format_minor(share_minor + interest_minor, 2)} CNY",
        "ecfin",
        ok(
            calls.call(
                borrower,
                manifest,
                "repay",
                loan_id=LOAN_ID,
                amount_minor=share_minor + interest_minor,
            ),
            "repay",
        ),
    )
    steps.balances(
        client,
        "balances: installment 1 repaid",
        holders,
        {"bank-a": installment_minor, "ecfin": -installment_minor},
    )
    events = [event for event in paid.receipt.events if event.name == "InstallmentPaid"]
    outstanding_minor = events[0].attribute("outstanding_minor") if events else None
    if not isinstance(outstanding_minor, int):
        raise DemoFailed("InstallmentPaid carries no outstanding amount")
    return outstanding_minor


def deploy(
    client: Client,
    steps: Steps,
    keys: Callable[[str], Signer],
    admins: Mapping[str, str],
    manifest: str,
    source: str,
) -> None:
    """Propose (ecfin's admin) and approve with each organization's admin until the package is
    committed; prints where it stands, read with a proof."""
    from jinqiao.contracts.host import parse_manifest

    name = parse_manifest(manifest).name
    proposed, package_hash = client.contracts.propose(keys(admins[PROPOSER]), manifest, source)
    steps.add(f"propose {name} {package_hash.hex()[:12]}…", PROPOSER, ok(proposed, "propose"))
    vote_until(
        steps,
        f"approve {package_hash.hex()[:12]}…",
        {organization: admin for organization, admin in admins.items()},
        lambda admin: client.contracts.approve(keys(admin), package_hash),
        "PackageCommitted",
    )
    record = client.contracts.package(package_hash, min_height=steps.last_height)
    if record is None or record.status != "committed":
        raise DemoFailed(f"the {name} package {package_hash.hex()} was not committed")
    not_needed = [organization for organization in admins if organization not in record.approvals]
    console.print(
        f"{name} {record.version} ({package_hash.hex()[:16]}…) proposed by "
        f"{record.proposer_organization}: [bold]{record.status}[/] at height "
        f"{steps.last_height}, approved by {len(record.approvals)} of {len(admins)} "
        f"organizations ({', '.join(record.approvals)}); quorum reached before "
        f"{', '.join(not_needed) or 'none'} (read with a proof)"
    )


def governance_pause(
    client: Client,
    steps: Steps,
    keys: Callable[[str], Signer],
    admins: Mapping[str, str],
    *,
    paused: bool,
) -> None:
    """Propose ``contracts.set_paused`` to governance (the clearing house) and approve it with
    the other organizations' admins until the proposal executes."""
    from jinqiao.apps.governance import ProposalArgs
    from jinqiao.execution.api import GOVERNANCE

    what = "pause" if paused else "resume"
    proposed, proposal_id = client.contracts.propose_pause(
        keys(admins[PAUSER]), CONTRACT, paused=paused
    )
    steps.add(f"governance: {what} escrow", PAUSER, ok(proposed, "propose"))
    if proposal_id is None:
        raise DemoFailed("the governance proposal has no id")
    voted = vote_until(
        steps,
        f"approve proposal {proposal_id}",
        {organization: admin for organization, admin in admins.items() if organization != PAUSER},
        lambda admin: client.send(keys(admin), GOVERNANCE, "approve", ProposalArgs(proposal_id)),
        "ProposalExecuted",
    )
    if not voted:
        raise DemoFailed(f"governance did not execute the proposal to {what} the escrow")


def vote_until(
    steps: Steps,
    step: str,
    voters: Mapping[str, str],
    vote: Callable[[str], TransactionResult],
    done_event: str,
) -> bool:
    """Each organization's admin votes in turn until a vote's receipt carries ``done_event``
    (the quorum reached); one row for the round. Whether it was reached."""
    organizations: list[str] = []
    votes: list[TransactionResult] = []
    for organization, admin in voters.items():
        organizations.append(organization)
        votes.append(ok(vote(admin), step))
        if any(event.name == done_event for event in votes[-1].receipt.events):
            break
    steps.add_votes(step, organizations, votes)
    return any(event.name == done_event for event in votes[-1].receipt.events)


def show_proven(client: Client, manifest: str, source: str) -> None:
    """The contract in force, read with a proof, and the contract's own query of an escrow run
    by the SDK on state proven against a header (``Client.proven_query``)."""
    from jinqiao.contracts.lifecycle import package_hash

    deployed = client.contracts.deployed(CONTRACT)
    in_force = "version 2.0.0" if deployed == package_hash(manifest, source) else "[red]another[/]"
    proven = client.proven_query(CONTRACT, "escrow", escrow_id="demo-2")
    amount_minor, deadline_ms, status = proven.result
    console.print(
        f"in force: escrow {in_force}; query escrow(demo-2) run on state proven at height "
        f"{proven.height}: {format_minor(amount_minor, 2)} CNY, {status}, deadline "
        f"{deadline_ms} ms — [green]verified[/]"
    )


def show_loan_due(client: Client, outstanding_minor: int) -> None:
    """The loan's next installment, by the contract's own query run by the SDK on state proven
    against a header."""
    proven = client.proven_query("loan", "due", loan_id=LOAN_ID)
    share_minor, interest_minor, due_ms, status = proven.result
    console.print(
        f"loan: {format_minor(outstanding_minor, 2)} CNY outstanding after installment 1; "
        f"query due({LOAN_ID}) run on state proven at height {proven.height}: next "
        f"{format_minor(share_minor, 2)} CNY principal + {format_minor(interest_minor, 2)} CNY "
        f"interest at {due_ms} ms, {status} — [green]verified[/]"
    )
