"""``jinqiao demo``: a local network and a day of CNY payments, end to end.

It starts real node processes on loopback, registers customers through their banks, issues CNY,
runs signed transfers through the SDK — including ones that must be refused — and prints what the
ledger says, every figure read back with proofs verified against the genesis file. Then a day of
card payments is recorded, cleared, netted and settled between the institutions
(``demo_payments``), and a supply chain: goods traced and verified, a clone caught, a receivable
financed down the chain and repaid (``demo.supplychain``), the credit story runs
(``demo.credit_story``), and a member's escrow contract is deployed, called, upgraded and paused
through governance (``demo.contracts_story``).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table

from jinqiao.apps.registry import registration
from jinqiao.apps.token import TOKEN, Holding, HoldingArgs, MintArgs, TransferArgs, balance_key
from jinqiao.client import Client, ClientError, Credentials
from jinqiao.core.codec import decode
from jinqiao.core.crypto import DEFAULT_SUITE, Signer
from jinqiao.core.types import SignedTransaction
from jinqiao.credit.names import AccountNameStore, NameOpening, new_salt, store_path
from jinqiao.demo import DemoFailed
from jinqiao.demo.payments import run_payments_day
from jinqiao.demo.supplychain import run_supply_chain
from jinqiao.keys import InsecurePlaintext, generate_key, load_key
from jinqiao.provision.network import (
    NetworkLayout,
    init_network,
    pull_private_data_from_each_other,
)
from jinqiao.provision.presets import CNY, demo_spec
from jinqiao.provision.supplychain import with_supply_chain
from jinqiao.terminal import console, format_minor, progress_bar

NODE_START_TIMEOUT_S = 60.0
DEMO_IDENTITY = "regulator-admin"
"""Whom the demo's own reads authenticate as: the regulator reads everything (docs/access.md)."""
CUSTOMERS_PER_BANK = 8
MERCHANTS = 4
FEN = 100


@dataclass
class Tally:
    receipts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    submitted: int = 0
    holders: list[Signer] = field(default_factory=list)
    names_kept: int = 0
    """Customer names the banks keep off chain (the registry holds their salted hashes)."""
    names_opened: int = 0
    """Of those, how many open the commitment read back from the chain with its proof."""


@contextlib.contextmanager
def running_node(
    home: Path, log_path: Path, url: str, http: httpx.Client, prefix: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """A real node process (its command after ``prefix``, e.g. ``ip netns exec <ns>``); stopped
    with SIGTERM (then SIGKILL after 10 s) on exit. ``http`` checks its certificate
    (``/healthz`` needs none of the client's)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "jinqiao", "node", "start", "--home", str(home)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise DemoFailed(f"the node exited with code {process.returncode}; see {log_path}")
            try:
                if http.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"the node did not answer within {NODE_START_TIMEOUT_S:.0f} s; see {log_path}"
                )
            time.sleep(0.2)
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not exited within ``timeout_s``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _submit_and_wait(
    client: Client,
    transactions: list[SignedTransaction],
    tally: Tally,
    progress: Progress,
    description: str,
) -> None:
    task = progress.add_task(description, total=len(transactions))
    hashes: list[str] = []
    for start in range(0, len(transactions), 500):
        batch = transactions[start : start + 500]
        result = client.submit_batch(batch)
        for transaction, answer in zip(batch, result.results, strict=True):
            tally.submitted += 1
            if "error" in answer:
                tally.refused[answer["error"]["code"]] += 1
                progress.advance(task)
            else:
                hashes.append(client.hash_of(transaction))
    for identity in hashes:
        outcome = client.wait(identity, timeout_s=60)
        tally.receipts[outcome.code] += 1
        progress.advance(task)


def _try_submit(client: Client, transaction: SignedTransaction, tally: Tally) -> str | None:
    tally.submitted += 1
    try:
        return client.submit(transaction)
    except ClientError as error:
        tally.refused[error.code] += 1
        return None


APPROVAL_PORT_OFFSET = 90
"""The approval service listens 90 above the first API port (the nodes' p2p ports are 100 up)."""


def run_demo(
    *,
    exit_after: bool,
    transfers: int,
    directory: Path | None,
    base_port: int,
    seed: int,
    validators: int = 4,
    payments: int = 2_000,
    crypto_suite: str = DEFAULT_SUITE,
    supply_chain: bool = True,
    credit: bool = True,
    contracts: bool = True,
    second_factor: bool = True,
) -> None:
    spec = demo_spec(validators=validators, base_api_port=base_port, crypto_suite=crypto_suite)
    for start in (spec.base_api_port, spec.base_p2p_port):
        for port in range(start, start + validators):
            _check_port_free(port)
    if second_factor:
        _check_port_free(base_port + APPROVAL_PORT_OFFSET)
    root = directory or Path(tempfile.mkdtemp(prefix="jinqiao-demo-"))
    network_dir = root / "network"
    console.print(
        Panel.fit(
            "[bold]jinqiao demo[/] — a consortium ledger for CNY payments", border_style="cyan"
        )
    )
    # A throwaway network in a temporary directory: its keys are plaintext, said so explicitly
    # (docs/keys.md "Throwaway networks"); a network of one's own is `jinqiao init`, encrypted.
    layout = init_network(
        network_dir,
        with_supply_chain(spec) if supply_chain else spec,
        protection=InsecurePlaintext(),
    )
    # Members' nodes gather private documents and credit disclosures from each other's nodes.
    pull_private_data_from_each_other(network_dir, layout)
    console.print(
        f"network [bold]{layout.chain_id}[/] in {network_dir}: {len(layout.nodes)} "
        f"validator{'s' if len(layout.nodes) > 1 else ''} "
        f"({', '.join(n.name for n in layout.nodes)}), {len(layout.accounts)} institution accounts"
    )
    # The demo reads as the regulator, who may read everything (docs/access.md); the rules
    # themselves are shown by ``_show_access`` with the banks' own certificates.
    credentials = Credentials.for_account(network_dir, DEMO_IDENTITY)
    with contextlib.ExitStack() as stack:
        http = stack.enter_context(credentials.http_client(timeout=5))
        processes = [
            stack.enter_context(
                running_node(network_dir / node.home, root / f"{node.name}.log", node.api_url, http)
            )
            for node in layout.nodes
        ]
        for node, process in zip(layout.nodes, processes, strict=True):
            console.print(f"node [bold]{node.name}[/] (pid {process.pid}) serving {node.api_url}")
        console.print(
            f"explorer: [bold]{layout.nodes[0].api_url}/explorer[/] (a browser presenting an "
            f"account's client certificate from {network_dir / 'clients'}: docs/explorer.md)"
        )
        node = layout.nodes[0]
        client = Client(
            node.api_url,
            genesis_file=network_dir / layout.genesis_file,
            credentials=credentials,
        )
        started = time.monotonic()
        tally = _run_day(client, layout, network_dir, transfers, random.Random(seed))
        elapsed = time.monotonic() - started
        _summary(client, layout, tally, elapsed)
        payments_from_height = int(client.status()["height"]) + 1
        if payments:
            keys = {
                name: _key(layout, network_dir, name)
                for name in (
                    "clearing-treasury",
                    "bank-a-treasury",
                    "bank-b-treasury",
                    "ecfin-settlement",
                )
            }
            run_payments_day(
                client, keys, payments, random.Random(seed), progress_bar, statements_dir=root
            )
        if supply_chain:
            run_supply_chain(client, lambda name: _key(layout, network_dir, name), root)
        if credit:
            from jinqiao.demo.credit_story import run_credit_story

            # Governance approves the model: one admin of every organization votes, since the
            # supply chain's organizations count towards the quorum too.
            admins = organization_admins(layout)
            names = ("bank-a-credit", "bank-b-credit", "ecfin-credit", *admins)
            run_credit_story(
                client,
                {name: _key(layout, network_dir, name) for name in names},
                seed,
                root,
                admins=admins,
                network_dir=network_dir,
                layout=layout,
                payments_from_height=payments_from_height,
            )
        if contracts:
            from jinqiao.demo.contracts_story import run_contracts_story

            run_contracts_story(
                client,
                lambda name: _key(layout, network_dir, name),
                {layout.account(name).organization: name for name in organization_admins(layout)},
            )
        if second_factor:
            from jinqiao.demo.second_factor import run_second_factor_story

            run_second_factor_story(
                client,
                lambda name: _key(layout, network_dir, name),
                layout.chain_id,
                root / "approval",
                port=base_port + APPROVAL_PORT_OFFSET,
                tls=network_dir / layout.nodes[0].home / "tls",
            )
        _show_access(layout, network_dir)
        _show_agreement(layout, http)
        if exit_after:
            return
        command = Path(sys.executable).parent / "jinqiao"
        console.print(
            f"\nThe network keeps running: API {node.api_url}/docs, "
            f"explorer {node.api_url}/explorer, "
            f"network directory {network_dir}.\nTry: [bold]{command} query balance "
            f"bank-a-treasury --network {network_dir} --as bank-a-treasury[/] or "
            f"[bold]{command} status --network {network_dir}[/]\nPress Ctrl-C to stop."
        )
        with contextlib.suppress(KeyboardInterrupt):
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
    if directory is None:
        shutil.rmtree(root, ignore_errors=True)
        console.print(f"stopped; removed {root}")


def _show_access(layout: NetworkLayout, network_dir: Path) -> None:
    """Who may see what (docs/access.md): each bank reads its own balance and not the other's,
    the regulator reads both, and nobody without a certificate reads anything."""
    url = layout.nodes[0].api_url
    table = Table(title="Who may see what (HTTPS, client certificates)")
    table.add_column("who")
    table.add_column("asks for")
    table.add_column("answer")
    askers = [
        (name, Credentials.for_account(network_dir, name).http_client(timeout=5))
        for name in ("bank-a-treasury", "regulator-admin")
    ]
    # Checks the node's certificate against the consortium roots, and presents none.
    roots = Credentials.for_account(network_dir, DEMO_IDENTITY).roots_file
    no_certificate = ssl.create_default_context(cafile=str(roots))
    askers.append(("(no certificate)", httpx.Client(verify=no_certificate, timeout=5)))
    for who, http in askers:
        with http:
            for owner in ("bank-a-treasury", "bank-b-treasury"):
                address = layout.account(owner).address
                answer = http.get(f"{url}/v1/token/CNY/balances/{address}")
                verdict = (
                    f"{answer.status_code} {answer.json()['balance_minor'] / 100:,.2f} CNY"
                    if answer.status_code == 200
                    else f"{answer.status_code} {answer.json()['code']}"
                )
                table.add_row(who, f"balance of {owner}", verdict)
    console.print(table)


def _show_agreement(layout: NetworkLayout, http: httpx.Client) -> None:
    """Every validator's view of the same height: one block hash, one state root."""
    heights = []
    for node in layout.nodes:
        try:
            heights.append(int(http.get(f"{node.api_url}/v1/status").json()["height"]))
        except httpx.HTTPError as exc:
            raise DemoFailed(
                f"validator {node.name} did not answer ({exc}); its log says why"
            ) from None
    common = min(heights)
    table = Table(title=f"The validators agree (block {common})")
    table.add_column("validator")
    table.add_column("head", justify="right")
    table.add_column("block hash")
    table.add_column("state root")
    for node, head in zip(layout.nodes, heights, strict=True):
        header = http.get(f"{node.api_url}/v1/blocks/{common}").json()["header"]
        table.add_row(
            node.name, str(head), header["hash"][:16] + "…", header["state_root"][:16] + "…"
        )
    console.print(table)


def _check_port_free(port: int) -> None:
    """Refuse a port something listens on. The probe binds as the node's servers do (asyncio
    and uvicorn set ``SO_REUSEADDR``), so connections of an earlier run still in TIME_WAIT, which
    would not stop the node, do not stop the demo either."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoFailed(
                f"port {port} on 127.0.0.1 is in use (another demo?); choose --base-port"
            ) from None


def organization_admins(layout: NetworkLayout) -> tuple[str, ...]:
    """The first ``admin`` account of every organization, in the layout's order."""
    admins: dict[str, str] = {}
    for account in layout.accounts:
        if "admin" in account.roles:
            admins.setdefault(account.organization, account.name)
    return tuple(admins.values())


def _key(layout: NetworkLayout, network_dir: Path, name: str) -> Signer:
    return load_key(network_dir / layout.account(name).key_file)


def _run_day(
    client: Client, layout: NetworkLayout, network_dir: Path, transfers: int, rng: random.Random
) -> Tally:
    tally = Tally()
    key = {
        name: _key(layout, network_dir, name)
        for name in (
            "clearing-treasury",
            "bank-a-admin",
            "bank-b-admin",
            "ecfin-admin",
            "regulator-admin",
            "bank-a-treasury",
            "bank-b-treasury",
            "ecfin-settlement",
        )
    }
    customers: list[Signer] = []
    merchants: list[Signer] = []
    with progress_bar() as progress:
        # 1. The banks and the e-commerce finance company register their customers.
        registrations = []
        for admin, count, kind in (
            ("bank-a-admin", CUSTOMERS_PER_BANK, customers),
            ("bank-b-admin", CUSTOMERS_PER_BANK, customers),
            ("ecfin-admin", MERCHANTS, merchants),
        ):
            for index in range(count):
                signer = generate_key(client.suite.name)
                kind.append(signer)
                role = "merchant" if kind is merchants else "customer"
                organization = admin.removesuffix("-admin")
                name = f"{organization}-{role}-{index}"
                # The name stays with the bank (its encrypted store); the chain gets its
                # salted hash (docs/adr/0029-account-names-off-chain.md).
                salt = new_salt()
                with AccountNameStore(
                    store_path(network_dir, organization), client.suite.hash
                ) as names:
                    names.save(signer.address, NameOpening(name, salt))
                registrations.append(
                    client.build(
                        key[admin],
                        "registry",
                        "register_account",
                        registration(client.suite, signer.public_key, name, (), salt),
                    )
                )
        _submit_and_wait(client, registrations, tally, progress, "register accounts")
        _check_names(client, layout, network_dir, [*customers, *merchants], tally)
        # 2. The clearing house issues CNY to the institutions' settlement accounts.
        issue = [
            client.build(
                key["clearing-treasury"],
                TOKEN,
                "mint",
                MintArgs(CNY, key[name].address, 50_000_000 * FEN),
            )
            for name in ("bank-a-treasury", "bank-b-treasury", "ecfin-settlement")
        ]
        _submit_and_wait(client, issue, tally, progress, "issue CNY")
        # 3. Banks fund their customers' retail wallets: CNY 8,000 each, except one customer who
        #    gets CNY 5 and so will run out of money.
        funding = [
            client.build(
                key["bank-a-treasury" if i < CUSTOMERS_PER_BANK else "bank-b-treasury"],
                TOKEN,
                "transfer",
                TransferArgs(CNY, customer.address, (5 if i == 0 else 8_000) * FEN),
            )
            for i, customer in enumerate(customers)
        ]
        _submit_and_wait(client, funding, tally, progress, "fund wallets")
        # 4. A day of payments: customers pay merchants and each other. Some exceed the retail
        #    wallet's CNY 2,000 per-payment limit or the payer's balance: those must be rejected.
        payments = []
        for _ in range(transfers):
            payer = rng.choice(customers)
            payee = rng.choice(merchants + customers[1:])  # customers[0] only runs dry
            roll = rng.random()
            amount = (rng.randint(2_001, 3_000) if roll < 0.04 else rng.randint(1, 300)) * FEN
            payments.append(
                client.build(payer, TOKEN, "transfer", TransferArgs(CNY, payee.address, amount))
            )
        _submit_and_wait(client, payments, tally, progress, "payments")
        # 5. The regulator freezes a wallet; its payment is rejected on chain.
        suspect = customers[-1]
        _submit_and_wait(
            client,
            [client.build(key["regulator-admin"], TOKEN, "freeze", _holding(suspect))],
            tally,
            progress,
            "freeze a wallet",
        )
        # 6. Payments the rules must stop, recorded on chain with their rejection codes: the
        #    frozen wallet pays, a retail wallet pays CNY 2,500 in one go (limit CNY 2,000), and
        #    the wallet funded with CNY 5 pays CNY 100.
        merchant = merchants[0].address
        checks = [
            client.build(suspect, TOKEN, "transfer", TransferArgs(CNY, merchant, 10 * FEN)),
            client.build(customers[1], TOKEN, "transfer", TransferArgs(CNY, merchant, 2_500 * FEN)),
            client.build(customers[0], TOKEN, "transfer", TransferArgs(CNY, merchant, 100 * FEN)),
        ]
        _submit_and_wait(client, checks, tally, progress, "payments the rules stop")
    # 7. Refused at the door, changing nothing: a replay, a customer minting, a forged signature.
    replay = payments[0]
    _try_submit(client, replay, tally)
    _try_submit(
        client,
        client.build(customers[0], TOKEN, "mint", MintArgs(CNY, customers[0].address, 10**6)),
        tally,
    )
    forged = client.build(
        customers[1], TOKEN, "transfer", TransferArgs(CNY, customers[2].address, FEN)
    )
    _try_submit(client, SignedTransaction(forged.body, bytes(64)), tally)
    tally.holders = [
        *customers,
        *merchants,
        *(
            key[name]
            for name in (
                "bank-a-treasury",
                "bank-b-treasury",
                "ecfin-settlement",
                "clearing-treasury",
            )
        ),
    ]
    return tally


def _check_names(
    client: Client,
    layout: NetworkLayout,
    network_dir: Path,
    registered: list[Signer],
    tally: Tally,
) -> None:
    """Read each registered account back with its proof and open its name commitment with the
    name and salt its organization keeps (docs/adr/0029)."""
    organizations = {account.organization for account in layout.accounts}
    stores = {
        organization: AccountNameStore(store_path(network_dir, organization), client.suite.hash)
        for organization in sorted(organizations)
        if store_path(network_dir, organization).is_file()
    }
    try:
        for signer in registered:
            record = client.account(signer.address)
            if record is None or record.organization not in stores:
                continue
            opening = stores[record.organization].load(signer.address)
            if opening is None:
                continue
            tally.names_kept += 1
            if opening.opens(client.suite.hash, record.name_commitment):
                tally.names_opened += 1
    finally:
        for store in stores.values():
            store.close()


def _holding(signer: Signer) -> HoldingArgs:
    return HoldingArgs(CNY, signer.address)


def _summary(client: Client, layout: NetworkLayout, tally: Tally, elapsed_s: float) -> None:
    status = client.status()
    committed = sum(tally.receipts.values())
    table = Table(title="What the ledger says", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("blocks committed", str(status["height"]))
    table.add_row("transactions submitted", str(tally.submitted))
    table.add_row("committed, succeeded", str(tally.receipts.get("ok", 0)))
    table.add_row("committed, rejected by contract", str(committed - tally.receipts.get("ok", 0)))
    table.add_row("refused at admission (no state change)", str(sum(tally.refused.values())))
    table.add_row("committed per second (demo pace)", f"{committed / elapsed_s:,.1f}")
    # The names stay with the banks; each opens the salted hash the registry holds.
    table.add_row(
        "customer names on chain (salted hashes)",
        f"none; {tally.names_opened}/{tally.names_kept} open",
    )
    console.print(table)
    codes = Table(title="Rejections by code")
    codes.add_column("code")
    codes.add_column("where")
    codes.add_column("count", justify="right")
    for code, count in sorted(tally.receipts.items()):
        if code != "ok":
            codes.add_row(code, "on chain (receipt)", str(count))
    for code, count in sorted(tally.refused.items()):
        codes.add_row(code, "at admission (HTTP 4xx)", str(count))
    console.print(codes)
    total = 0
    for signer in tally.holders:
        total += client.token.balance(CNY, signer.address)
    supply = client.token.supply(CNY)
    verdict = "[green]holds[/]" if supply == total else "[red]BROKEN[/]"
    console.print(
        f"supply check: total supply {format_minor(supply, 2)} CNY = sum of "
        f"{len(tally.holders)} proven balances {format_minor(total, 2)} CNY → {verdict}"
    )
    probe = tally.holders[0].address
    proven = client.read_state(TOKEN, balance_key(CNY, probe))
    proof = Table(
        title="A state proof, verified locally with jinqiao.verify and genesis.json",
        show_header=False,
        expand=True,
    )
    proof.add_column("what", style="bold", no_wrap=True)
    proof.add_column("value", overflow="fold")
    proof.add_row("key", f"token/{balance_key(CNY, probe).hex()}")
    proof.add_row("value", _describe_holding(proven.value))
    proof.add_row("block", f"{proven.height}, state root {proven.state_root.hex()}")
    proof.add_row(
        "checked",
        "sparse Merkle proof → state root → header → commit certificate, checked against the "
        f"{len(client.genesis.validators)} genesis validators (more than 2/3 of the power signed): "
        "[green]verified[/]",
    )
    console.print(proof)


def _describe_holding(value: bytes | None) -> str:
    if value is None:
        return "(absent: balance 0)"
    holding = decode(value, Holding, max_bytes=4096)
    return (
        f"{value.hex()} = balance {format_minor(holding.balance_minor, 2)} CNY, "
        f"tier {holding.tier}, frozen {holding.frozen}"
    )
