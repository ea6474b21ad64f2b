"""The ``jinqiao`` command against a real node process: human and ``--json`` output, exit codes,
and one clear line (never a traceback) for every mistake."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from jinqiao.cli.main import app
from tests.helpers.process import NodeProcess, free_port, free_port_base

pytestmark = pytest.mark.e2e
runner = CliRunner()
REGISTER_M1 = (
    "payments",
    "register-merchant",
    "M1",
    "Tea House",
    "5812",
    "--key",
    "ecfin-settlement",
)


def authorize_command(payment_id: str, amount_minor: str) -> tuple[str, ...]:
    """``payments authorize``: bank-a's card paying merchant M1 of ecfin."""
    return (
        "payments",
        "authorize",
        payment_id,
        amount_minor,
        "--issuer",
        "bank-a",
        "--acquirer",
        "ecfin",
        "--merchant",
        "M1",
        "--payer-hash",
        "ab" * 32,
        "--authorization-code",
        "A1B2C3",
        "--key",
        "bank-a-treasury",
    )


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, NodeProcess]]:
    directory = tmp_path_factory.mktemp("cli") / "net"
    port = free_port()
    code, out, err = invoke(
        "init", str(directory), "--base-port", str(port), "--insecure-plaintext", "--json"
    )
    assert code == 0, err
    layout = json.loads(out)
    node = NodeProcess(directory / layout["nodes"][0]["home"], port=port).start()
    try:
        yield directory, node
    finally:
        assert node.stop() == 0, node.log()


def test_keys_create_and_export_public(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    code, out, _ = invoke("keys", "create", str(path), "--insecure-plaintext", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["kind"] == "plaintext"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, _ = invoke("keys", "export-public", str(path), "--json")
    assert json.loads(out) == created
    assert "secret" not in out
    code, _, err = invoke("keys", "create", str(path), "--insecure-plaintext")
    assert code == 1 and "refusing to overwrite" in err


def test_node_add_makes_a_home_and_refuses_bad_requests(tmp_path: Path) -> None:
    directory = tmp_path / "net"
    assert invoke("init", str(directory), "--validators", "2", "--insecure-plaintext")[0] == 0
    ports = ("--api-port", "9801", "--p2p-port", "9901")
    code, out, err = invoke(
        "node",
        "add",
        str(directory),
        "--name",
        "bank-a-2",
        "--organization",
        "bank-a",
        *ports,
        "--insecure-plaintext",
        "--json",
    )
    assert code == 0, err
    added = json.loads(out)
    home = directory / added["home"]
    assert stat.S_IMODE((home / "validator_key.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "tls" / "node.key").stat().st_mode) == 0o600
    config = json.loads((home / "config.json").read_text())
    assert config["dial_all_peers"] is True and len(config["peers"]) == 2
    network_map = json.loads((directory / "network.json").read_text())
    assert [node["name"] for node in network_map["nodes"]][-1] == "bank-a-2"
    for args, message in [
        (("--name", "bank-a-2", "--organization", "bank-a", *ports), "exists"),
        (("--name", "x", "--organization", "nobody", *ports), "no organization 'nobody'"),
        (("--name", "Bad Name", "--organization", "bank-a", *ports), "a node name is"),
        (
            ("--name", "y", "--organization", "bank-a", "--api-port", "8600", "--p2p-port", "9902"),
            "already uses port",
        ),
    ]:
        before = (directory / "network.json").read_bytes()
        code, _, err = invoke("node", "add", str(directory), *args, "--insecure-plaintext")
        assert code == 1 and message in err, err
        assert (directory / "network.json").read_bytes() == before


def test_add_validator_needs_a_hex_key(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    code, _, err = invoke(
        "tx",
        "governance",
        "add-validator",
        "--public-key",
        "zz",
        "--name",
        "v",
        "--organization",
        "bank-a",
        "--key",
        "bank-a-admin",
        "--network",
        str(directory),
    )
    assert code == 1 and "hexadecimal" in err


def test_replace_validator_key_refusals_change_nothing(network: tuple[Path, NodeProcess]) -> None:
    """docs/keys.md "Rotation": each refusal is one line or a rejected receipt, and the
    validator set stays as it was."""
    directory, node = network
    net = ["--network", str(directory)]
    validator = json.loads((node.home / "validator_key.json").read_text())
    organization = json.loads((node.home / "genesis.json").read_text())["validators"][0][
        "organization"
    ]
    other_admin = "bank-b-admin" if organization != "bank-b" else "bank-a-admin"
    next_key = directory / "next-key.json"
    code, out, err = invoke("keys", "create", str(next_key), "--insecure-plaintext", "--json")
    assert code == 0, err
    public_key = json.loads(out)["public_key"]

    def validators() -> object:
        return node.http.post(f"{node.url}/v1/query/governance/validators", json={}).json()[
            "result"
        ]

    before = validators()
    replace = ("tx", "governance", "replace-validator-key")
    for args, exit_code, message in [
        ((validator["address"], "--public-key", "zz", "--key", other_admin), 1, "hexadecimal"),
        (("ab" * 20, "--public-key", public_key, "--key", other_admin), 2, "unknown_validator"),
        (
            (validator["address"], "--public-key", public_key, "--key", other_admin),
            2,
            "not_your_organization",
        ),
        (
            (validator["address"], "--public-key", validator["public_key"]),
            2,
            "validator_exists",
        ),
        ((validator["address"], "--public-key", "ab" * 5), 2, "invalid_public_key"),
    ]:
        if "--key" not in args:
            args = (*args, "--key", f"{organization}-admin")
        code, out, err = invoke(*replace, *args, *net)
        assert code == exit_code and message in out + err, (args, out, err)
        assert "Traceback" not in err
    assert validators() == before


def test_init_keys_and_sim_take_the_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SM2 keys are made for the suite and encrypted at rest like Ed25519 keys."""
    monkeypatch.setenv("SM2_TEST_PASSPHRASE", "correct horse battery staple")
    encrypted = ("--passphrase-env", "SM2_TEST_PASSPHRASE", "--scrypt-log2-n", "14")
    directory = tmp_path / "sm2"
    code, out, err = invoke("init", str(directory), "--suite", "sm2-sm3", *encrypted, "--json")
    assert code == 0, err
    genesis = json.loads((directory / "genesis.json").read_text())
    assert genesis["crypto_suite"] == "sm2-sm3"
    for account in json.loads(out)["accounts"]:
        key_file = json.loads((directory / account["key_file"]).read_text())
        assert key_file["format"] == "jinqiao-keystore-v1" and "secret_key" not in key_file
        assert key_file["suite"] == "sm2-sm3" and len(key_file["public_key"]) == 130
    assert all(len(v["public_key"]) == 130 for v in genesis["validators"])
    key = tmp_path / "k.json"
    code, out, _ = invoke("keys", "create", str(key), "--suite", "sm2-sm3", *encrypted, "--json")
    created = json.loads(out)
    assert code == 0 and created["kind"] == "encrypted" and created["suite"] == "sm2-sm3"
    assert len(created["public_key"]) == 130
    code, out, _ = invoke("sim", "--seed", "0", "--suite", "sm2-sm3", "--json")
    assert code == 0 and json.loads(out)["suite"] == "sm2-sm3"


@pytest.mark.parametrize(
    "command",
    [
        ("init", "{dir}", "--suite", "sm9"),
        ("init", "{dir}", "--suite", "sm9", "--insecure-plaintext"),
        ("keys", "create", "{dir}/k.json", "--suite", "sm9"),
        ("keys", "create", "{dir}/k.json", "--suite", "sm9", "--insecure-plaintext"),
        ("keys", "import", "{dir}/k.json", "--suite", "sm9", "--insecure-plaintext"),
        ("sim", "--seed", "0", "--suite", "sm9"),
        ("bench", "network", "--suite", "sm9"),
    ],
)
def test_an_unknown_suite_is_one_line_and_writes_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    target = tmp_path / "new"
    code, _, err = invoke(*(part.format(dir=target) for part in command))
    assert code == 1
    assert err.strip() == ("error: unknown crypto suite 'sm9'; known: ed25519-sha256, sm2-sm3"), err
    assert not target.exists()


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("taken")
    code, _, err = invoke("init", str(tmp_path))
    assert code == 1 and "not empty" in err


def test_mint_transfer_and_query(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    code, out, err = invoke(
        "tx",
        "token",
        "mint",
        "bank-a-treasury",
        "100000",
        "--key",
        "clearing-treasury",
        *net,
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok" and json.loads(out)["verified"] is True
    code, out, err = invoke(
        "tx", "token", "transfer", "bank-b-treasury", "2500", "--key", "bank-a-treasury", *net
    )
    assert code == 0, err
    assert "ok" in out and "proof verified" in out
    code, out, _ = invoke("query", "balance", "bank-b-treasury", *net, "--json")
    assert json.loads(out)["balance_minor"] == 2500
    code, out, _ = invoke("query", "balance", "bank-b-treasury", *net)
    assert "25.00 CNY" in out
    code, out, _ = invoke("query", "block", *net, "--json")
    block = json.loads(out)
    assert block["header"]["height"] >= 2
    code, out, _ = invoke("query", "status", *net, "--json")
    assert json.loads(out)["height"] >= 2


def test_contract_rejection_exits_2_with_the_code(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    code, out, _ = invoke(
        "tx",
        "token",
        "transfer",
        "bank-a-treasury",
        "10",
        "--key",
        "regulator-admin",
        "--network",
        str(directory),
    )
    assert code == 2 and "insufficient_funds" in out


def test_mistakes_are_one_line_without_traceback(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    cases = [
        (
            ["query", "balance", "nobody-by-this-name", "--network", str(directory)],
            "no account named",
        ),
        (
            [
                "tx",
                "token",
                "mint",
                "bank-a-treasury",
                "5",
                "--key",
                "bank-a-treasury",
                "--network",
                str(directory),
            ],
            "refused unauthorized",
        ),
        (["query", "state", "token", "zz", "--network", str(directory)], "hex"),
        (["query", "status", "--url", "http://127.0.0.1:1"], "give --genesis FILE too"),
        (
            [
                "query",
                "status",
                "--url",
                "http://127.0.0.1:1",
                "--genesis",
                str(directory / "genesis.json"),
            ],
            "unreachable",
        ),
        (["query", "status"], "say which node"),
        (["node", "start", "--home", "/nonexistent/home"], "cannot read"),
    ]
    for args, expected in cases:
        code, _, err = invoke(*args)
        refused_at_admission = args[0] == "tx"
        assert code == (3 if refused_at_admission else 1), (args, err)
        assert expected in err, (args, err)
        assert "Traceback" not in err


def test_demo_runs_to_its_summary(tmp_path: Path) -> None:
    """The README's demo command, shortened: real node process, summary, clean exit."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jinqiao",
            "demo",
            "--exit-after",
            "--transfers",
            "60",
            "--payments",
            "300",
            "--directory",
            str(tmp_path / "demo"),
            "--base-port",
            str(free_port_base(4)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "What the ledger says" in result.stdout
    assert re.search(r"explorer: https://127\.0\.0\.1:\d+/explorer", result.stdout)
    # Customer names stay with the banks: the chain holds salted hashes, which the names open.
    assert re.search(
        r"customer names on chain \(salted hashes\) +│ +none; 20/20 open", result.stdout
    )
    assert "holds" in result.stdout and "verified" in result.stdout
    for code in (
        "account_frozen",
        "tier_payment_limit",
        "insufficient_funds",
        "duplicate_transaction",
        "invalid_signature",
        "unauthorized",
    ):
        assert code in result.stdout, code
    # The payments day: cleared, netted and settled, with its figures.
    assert "The payments day" in result.stdout
    assert "netting efficiency" in result.stdout and "largest net debit" in result.stdout
    assert "payment_conflict" in result.stdout
    settlement = next(line for line in result.stdout.splitlines() if "settlement check" in line)
    assert "holds" in settlement
    assert "settled" in result.stdout
    # The contracts story: the escrow example committed by the quorum, called, upgraded to
    # 2.0.0 with its migration run once, paused by governance (a call refused), resumed.
    story = result.stdout[result.stdout.index("contracts — a member's escrow") :]
    assert "escrow 1.0.0" in story and "escrow 2.0.0" in story
    assert story.count("EscrowMigrated") == 1
    assert "EscrowOpened" in story and "EscrowExtended" in story
    # The CNY really moves: two opens put 10,000.00 into the escrow's own balance, each release
    # pays 5,000.00 of it out (balances read with proofs; the story fails if a change differs).
    # Long lines wrap: read the text with the line breaks taken out.
    flat = " ".join(story.split())
    assert "escrow 0.00" in flat and "escrow 10,000.00" in flat and "escrow 5,000.00" in flat
    assert "balances: principal disbursed" in flat and "balances: installment 1 repaid" in flat
    assert "unauthorized" in story
    assert "ContractPaused" in story and "contract_paused" in story
    assert "ContractResumed" in story
    proven = next(line for line in story.splitlines() if line.startswith("in force:"))
    assert "escrow version 2.0.0" in proven and "released" in proven and "verified" in proven
    # The loan example, committed the same way: originated, a short repayment rejected on chain,
    # the first installment (3 x 10,000.00 at 0.50% a month: 10,150.00) repaid, the next one read
    # by the contract's query on proven state.
    assert "loan 1.0.0" in story and story.count("PackageCommitted") == 3
    assert "LoanOriginated" in story and "wrong_amount" in story and "InstallmentPaid" in story
    assert "10,150.00" in story  # the amount due() returned, in the step's cell
    due = next(line for line in story.splitlines() if line.startswith("loan:"))
    assert "20,000.00 CNY outstanding" in due and "10,000.00 CNY principal" in due
    assert "100.00 CNY interest" in due and "current" in due and "verified" in due
    # The supply chain: a cloned label caught, the same invoice refused a second financing, and
    # case 0's label drawn as a QR code (read back here) beside its proven journey's graph.
    # The treasury transfer above CNY 1,000,000: refused alone, a wrong and a replayed TOTP code
    # refused by bank-a's approval service, approved with the right one (docs/keys.md).
    second = " ".join(result.stdout[result.stdout.index("with a second factor") :].split())
    assert "sent alone: refused approval_required" in second
    assert "refused code_invalid" in second and "refused code_replayed" in second
    assert "the right code: approved" in second
    assert "clone_suspected" in result.stdout and "document_already_used" in result.stdout
    assert re.search(r"case 0: \d+ events in its journey", result.stdout)
    with Image.open(next((tmp_path / "demo").rglob("case-0-label.png"))) as qr:
        (label,) = zxingcpp.read_barcodes(qr)
    assert label.text.startswith("https://id.gs1.org/01/") and "sig=" in label.text
    assert next((tmp_path / "demo").rglob("case-0-journey.png")).stat().st_size > 10_000
    # The credit story (issue 13, item 9): consent, a record derived from the demo's card
    # payments, a score with reasons, a decision and the loan it grants as a record, the proven
    # access log, erasure, and a score refused afterwards.
    credit = result.stdout[result.stdout.index("credit — consented data") :]
    for step in ("consent:", "derives payment activity", "reasons:", "decision:", "loan:"):
        assert step in credit, step
    assert "access log (proven" in credit and "records" in credit and "score" in credit
    assert "erasure:" in credit and "subject_erased" in credit
    # Its report files come with their proof bundles, and each pair checks offline.
    bundles = sorted((tmp_path / "demo").rglob("*.proofs.json"))
    assert len(bundles) == 3, bundles
    genesis = next((tmp_path / "demo").rglob("genesis.json"))
    for bundle in bundles:
        report = bundle.with_name(bundle.name.removesuffix(".proofs.json"))
        code, out, err = invoke("verify", str(report), "--genesis", str(genesis))
        assert code == 0, err
        assert out.startswith("verified: ")


def test_registry_commands(network: tuple[Path, NodeProcess], tmp_path: Path) -> None:
    directory, node = network
    net = ["--network", str(directory)]
    key_file = tmp_path / "carol.json"
    code, out, _ = invoke("keys", "create", str(key_file), "--insecure-plaintext", "--json")
    carol = json.loads(out)
    code, out, err = invoke(
        "tx",
        "account",
        "register",
        "carol",
        carol["public_key"],
        "--roles",
        "bank",
        "--key",
        "bank-a-admin",
        *net,
        "--json",
    )
    assert code == 0, err
    # The chain holds the salted hash of carol's name; bank-a's store holds the name, and
    # `query account` shows it because it opens that hash.
    code, out, err = invoke(
        "query", "account", carol["address"], *net, "--as", "bank-a-admin", "--json"
    )
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["organization"], shown["name"], shown["verified"]) == ("bank-a", "carol", True)
    record = node.http.get(f"{node.url}/v1/accounts/{carol['address']}").json()["account"]
    assert "carol" not in json.dumps(record)
    assert record["name_commitment"] == shown["name_commitment"]
    # A reader without bank-a's store sees the commitment only.
    code, out, err = invoke(
        "query",
        "account",
        carol["address"],
        *net,
        "--names-store",
        str(tmp_path / "none"),
        "--as",
        "bank-a-admin",
        "--json",
    )
    assert code == 0 and json.loads(out)["name"] is None, err
    # A bad name is refused on the member's side: nothing is sent, nothing is stored.
    code, out, err = invoke(
        "tx",
        "account",
        "register",
        "\u202egnp.exe",
        carol["public_key"],
        "--key",
        "bank-a-admin",
        *net,
    )
    assert code != 0 and "invalid_name" in err + out
    code, out, err = invoke(
        "tx", "account", "suspend", carol["address"], "--key", "bank-a-admin", *net
    )
    assert code == 0, err
    code, out, err = invoke(
        "tx", "token", "transfer", "bank-a-treasury", "1", "--key", str(key_file), *net
    )
    assert code == 3 and "sender_suspended" in err  # refused at admission
    code, out, err = invoke(
        "tx", "account", "reactivate", carol["address"], "--key", "bank-a-admin", *net
    )
    assert code == 0, err
    # Another organization's admin may not touch bank-a's accounts: committed, rejected.
    code, out, _ = invoke(
        "tx", "account", "suspend", carol["address"], "--key", "bank-b-admin", *net
    )
    assert code == 2 and "not_your_organization" in out


def test_governance_commands_change_a_parameter(network: tuple[Path, NodeProcess]) -> None:
    directory, node = network
    net = ["--network", str(directory)]
    code, out, err = invoke(
        "tx",
        "governance",
        "set-parameter",
        "valid_until_window_blocks",
        "500",
        "--key",
        "clearing-admin",
        *net,
        "--json",
    )
    assert code == 0, err
    proposal_id = json.loads(out)["proposal_id"]
    before = node.http.post(f"{node.url}/v1/query/governance/parameters", json={}).json()
    assert before["result"]["valid_until_window_blocks"] == 1000  # not yet: 4 of 5 must approve
    for admin in ("bank-a-admin", "bank-b-admin", "ecfin-admin"):
        code, _, err = invoke("tx", "governance", "approve", str(proposal_id), "--key", admin, *net)
        assert code == 0, err
    parameters = node.http.post(f"{node.url}/v1/query/governance/parameters", json={}).json()
    assert parameters["result"]["valid_until_window_blocks"] == 500
    code, out, err = invoke("tx", "governance", "show", str(proposal_id), *net, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["verified"] is True and shown["proposal"]["status"] == "executed"
    assert sorted(shown["proposal"]["approvals"]) == ["bank-a", "bank-b", "clearing", "ecfin"]
    code, out, err = invoke("tx", "governance", "show", "999999", *net)
    assert code != 0 and "999999" in err and "Traceback" not in err, err
    assert "unknown_proposal" in err or "no proposal" in err, err


def test_payments_commands(network: tuple[Path, NodeProcess]) -> None:
    directory, _ = network
    net = ["--network", str(directory)]
    code, out, err = invoke(
        "payments",
        "register-institution",
        "ecfin",
        "acquirer",
        "ecfin-settlement",
        "--key",
        "clearing-treasury",
        *net,
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"
    code, out, err = invoke(*REGISTER_M1, *net)
    assert code == 0 and "proof verified" in out, err
    code, out, err = invoke(
        "payments",
        "open-cycle",
        "--cutoff-blocks",
        "1000",
        "--key",
        "clearing-treasury",
        *net,
        "--json",
    )
    assert code == 0, err
    cycle_id = str(json.loads(out)["cycle_id"])
    code, out, err = invoke("payments", "show-cycle", cycle_id, *net)
    assert code == 0 and "netting efficiency" in out and "open" in out, err
    code, out, err = invoke("payments", "show-cycle", cycle_id, *net, "--json")
    assert json.loads(out)["figures"]["gross_minor"] == 0
    # Closing before the cut-off is committed and rejected with its code: exit 2.
    code, out, _ = invoke("payments", "close-cycle", cycle_id, "--key", "clearing-treasury", *net)
    assert code == 2 and "cutoff_not_reached" in out
    code, _, err = invoke("payments", "show-cycle", "999", *net)
    assert code == 1 and "not_found" in err and "Traceback" not in err
    # Reports: nobody has payments in this cycle yet.
    code, _, err = invoke("payments", "statement", cycle_id, "bank-a", *net)
    assert code == 1 and "not_in_cycle" in err
    chart = directory / "cycle.png"
    code, out, err = invoke("payments", "report", cycle_id, "--output", str(chart), *net)
    assert code == 0, err
    assert chart.read_bytes().startswith(b"\x89PNG")
    code, _, err = invoke("payments", "capture", "P1", "0", "1", "--key", "ecfin-settlement", *net)
    assert code == 2 and "Traceback" not in err  # typer refuses an amount below 1


MAX_ADVANCE_BLOCKS = 50


def _height(net: list[str]) -> int:
    code, out, err = invoke("query", "status", *net, "--json")
    assert code == 0, err
    return int(json.loads(out)["height"])


def _advance_to(net: list[str], height: int) -> None:
    """Commit blocks (each a harmless re-registration of merchant M1) until the head is at
    ``height``: an idle node makes an empty block only every 10 s."""
    for _ in range(MAX_ADVANCE_BLOCKS):
        if _height(net) >= height:
            return
        code, _, err = invoke(*REGISTER_M1, *net)
        assert code == 0, err
    raise AssertionError(f"height {height} not reached")


def test_payments_reverse_collateral_default_and_merchant_payouts(
    network: tuple[Path, NodeProcess], tmp_path: Path
) -> None:
    directory, node = network
    net = ["--network", str(directory)]

    def ok(*args: str) -> str:
        code, out, err = invoke(*args, *net)
        assert code == 0, (args, out, err)
        return out

    def authorize(payment_id: str, amount_minor: str) -> str:
        return ok(*authorize_command(payment_id, amount_minor))

    clearing = ("--key", "clearing-treasury")
    ok("payments", "register-institution", "bank-a", "card_issuer", "bank-a-treasury", *clearing)
    ok("payments", "register-institution", "ecfin", "acquirer", "ecfin-settlement", *clearing)
    ok(*REGISTER_M1)
    ok("tx", "token", "mint", "bank-a-treasury", "1000000", *clearing)
    # Collateral: posted (the escrow approved first), part withdrawn while nothing is pending.
    posted = json.loads(
        ok("payments", "post-collateral", "60000", "--key", "bank-a-treasury", "--json")
    )
    assert posted["status"] == "ok" and posted["verified"] is True
    ok("payments", "withdraw-collateral", "10000", "--key", "bank-a-treasury")
    code, out, _ = invoke(
        "payments", "withdraw-collateral", "999999", "--key", "bank-a-treasury", *net
    )
    assert code == 2 and "insufficient_collateral" in out
    opened = json.loads(
        ok(
            "payments",
            "open-cycle",
            "--cutoff-blocks",
            "12",
            "--funding-window-blocks",
            "1",
            *clearing,
            "--json",
        )
    )
    cycle_id = str(opened["cycle_id"])
    # Reverse: an authorization the merchant will not capture.
    authorize("CLI-R1", "5000")
    assert "proof verified" in ok("payments", "reverse", "CLI-R1", "--key", "ecfin-settlement")
    code, out, _ = invoke(
        "payments", "capture", "CLI-R1", "5000", cycle_id, "--key", "ecfin-settlement", *net
    )
    assert code == 2 and "invalid_transition" in out
    code, out, _ = invoke(
        "payments", "reverse", "NOPE", "--key", "ecfin-settlement", *net, "--json"
    )
    assert code == 2 and json.loads(out)["code"] == "unknown_payment"
    # A payment bank-a then does not fund: the default procedure draws its collateral.
    authorize("CLI-D1", "10000")
    ok("payments", "capture", "CLI-D1", "10000", cycle_id, "--key", "ecfin-settlement")
    code, out, _ = invoke("payments", "declare-default", cycle_id, *clearing, *net)
    assert code == 2 and "cycle_not_closed" in out
    _advance_to(net, opened["cutoff_height"])
    ok("payments", "close-cycle", cycle_id, *clearing)
    _advance_to(net, _height(net) + 1)  # the next block is past the 1-block funding window
    declared = json.loads(ok("payments", "declare-default", cycle_id, *clearing, "--json"))
    assert declared["status"] == "ok"
    ok("payments", "settle", cycle_id, *clearing)
    # show-cycle: the settlement time from the closing and settling blocks' headers.
    shown = json.loads(ok("payments", "show-cycle", cycle_id, "--json"))
    assert shown["cycle"]["status"] == "settled"
    timing = shown["timing"]

    def block_time(height: int) -> int:
        header = node.http.get(f"{node.url}/v1/blocks/{height}", timeout=10).json()["header"]
        return int(header["time_ms"])

    assert timing["settlement_blocks"] == timing["settled_height"] - timing["closed_height"] > 0
    assert timing["settlement_time_ms"] == (
        block_time(timing["settled_height"]) - block_time(timing["closed_height"])
    )
    assert "settlement time" in ok("payments", "show-cycle", cycle_id)
    # The acquirer's payouts to its merchants: pacs.008, M1 owed the whole 100.00.
    payouts = tmp_path / "payouts.xml"
    ok("payments", "merchant-payouts", cycle_id, "ecfin", "--output", str(payouts))
    xml = payouts.read_bytes()
    assert b"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.13" in xml
    assert b"<NbOfTxs>1</NbOfTxs>" in xml and b'<IntrBkSttlmAmt Ccy="CNY">100.00<' in xml
    code, _, err = invoke("payments", "merchant-payouts", cycle_id, "bank-a", *net)
    assert code == 1 and "not_acquirer_in_cycle" in err and "Traceback" not in err
    # The cycle's net settlement: pacs.009.
    settlement = tmp_path / "settlement.xml"
    ok("payments", "settlement", cycle_id, "--output", str(settlement))
    assert b"urn:iso:std:iso:20022:tech:xsd:pacs.009.001.12" in settlement.read_bytes()
    code, _, err = invoke("payments", "settlement", "999", *net)
    assert code == 1 and "Traceback" not in err and err.strip()
