"""The Python SDK: build and sign transactions, submit them, wait for commit, and read the ledger
with proofs that are verified locally against the genesis file (on by default).

    from pathlib import Path
    from jinqiao.client import Client, Credentials
    from jinqiao.keys import load_key

    client = Client(
        "https://127.0.0.1:8600",
        genesis_file=Path("net/genesis.json"),
        credentials=Credentials.for_account(Path("net"), "bank-a-treasury"),  # docs/access.md
    )
    alice = load_key(Path("net/accounts/bank-a-treasury.json"))
    result = client.token.transfer(alice, "CNY", recipient, 12_345)   # fen
    assert result.ok
    balance = client.token.balance("CNY", recipient)                   # proven read

A submission ends committed ok, committed rejected (``TransactionResult``), refused at admission
(``TransactionRefused``) or pending with its outcome unknown (``TransactionPending``: re-send the
same bytes with ``client.resend``, never a new transaction); ``jinqiao.client.outcome`` says more.
``Client(url, other_urls=[...])`` fails over to the other nodes of the network.
``AsyncClient`` (with ``client.token``, an ``AsyncTokenClient``) is the same for asyncio programs:
the core reads, submissions with their four outcomes and the token contract, awaited
(``jinqiao.client.asynchronous``; both run the protocol of ``jinqiao.client.core``).

``client.token`` (a ``TokenClient``), ``client.payments`` (a ``PaymentsClient``) and
``client.supplychain`` (a ``SupplyChainClient``) are the typed calls of those contracts;
``client.keys`` (a ``KeysClient``) reads and changes signing policies, rotates and revokes keys
(``AccountKey`` signs for a policy account with one of its keys, ``MultiSigner`` with several
in one transaction, ``prepare_multi_signed``/``add_signature``/``missing_signers`` gather them
one holder at a time: docs/keys.md);
``ApprovalServiceClient`` and ``ApprovalServiceSigner`` ask an institution's approval service to
co-sign a pending approval after a TOTP code, ``WebAuthnApprovalSigner`` after the approver's
WebAuthn authenticator answered on the service's page (docs/keys.md "Second factor");
``client.credit`` and ``client.contracts`` (members' contracts: propose, approve, call, pause;
``jinqiao.client.contracts``) those of the credit contract and of the contract lifecycle;
``client.governance`` (a ``GovernanceClient``: propose every kind, approve, withdraw, and proven
``proposal``/``list`` answers as ``ProposalStatus`` with the quorum worked out) that of
governance. The names in ``__all__`` and their signatures are the public API, pinned
by ``tests/unit/test_public_api.py``; ``jinqiao.client.client`` and the other submodules are not.
"""

from jinqiao.client.approval import (
    ApprovalRequest,
    ApprovalServiceClient,
    ApprovalServiceSigner,
    SecondFactorAnswer,
    WebAuthnApprovalSigner,
    WebAuthnChallenge,
)
from jinqiao.client.asynchronous import AsyncClient
from jinqiao.client.client import (
    BatchResult,
    Client,
    EventStream,
    ProvenBlock,
    ProvenQueryResult,
    ProvenValue,
    TransactionResult,
)
from jinqiao.client.cosign import (
    MultiSigner,
    add_signature,
    missing_signers,
    prepare_multi_signed,
)
from jinqiao.client.credentials import Credentials
from jinqiao.client.governance import (
    GovernanceClient,
    ProposalList,
    ProposalStatus,
    ProposalSubmitted,
)
from jinqiao.client.keys import AccountKey, KeysClient
from jinqiao.client.outcome import (
    ClientError,
    NodesUnreachable,
    PendingTransaction,
    TransactionPending,
    TransactionRefused,
)
from jinqiao.client.payments import PaymentsClient
from jinqiao.client.supplychain import ItemCustody, ItemVerification, SupplyChainClient
from jinqiao.client.token import AsyncTokenClient, TokenClient

__all__ = [
    "AccountKey",
    "ApprovalRequest",
    "ApprovalServiceClient",
    "ApprovalServiceSigner",
    "AsyncClient",
    "AsyncTokenClient",
    "BatchResult",
    "Client",
    "ClientError",
    "Credentials",
    "EventStream",
    "GovernanceClient",
    "ItemCustody",
    "ItemVerification",
    "KeysClient",
    "MultiSigner",
    "NodesUnreachable",
    "PaymentsClient",
    "PendingTransaction",
    "ProposalList",
    "ProposalStatus",
    "ProposalSubmitted",
    "ProvenBlock",
    "ProvenQueryResult",
    "ProvenValue",
    "SecondFactorAnswer",
    "SupplyChainClient",
    "TokenClient",
    "TransactionPending",
    "TransactionRefused",
    "TransactionResult",
    "WebAuthnApprovalSigner",
    "WebAuthnChallenge",
    "add_signature",
    "missing_signers",
    "prepare_multi_signed",
]
