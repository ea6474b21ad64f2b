"""The Python SDK: build and sign transactions, submit them, wait for commit, and read the ledger
with proofs that are verified locally against the genesis file (on by default).

    from pathlib import Path
    from jinqiao.client import Client
    from jinqiao.keys import load_key

    client = Client("http://127.0.0.1:8600", genesis_file=Path("net/genesis.json"))
    alice = load_key(Path("net/accounts/bank-a-treasury.json"))
    result = client.token.transfer(alice, "CNY", recipient, 12_345)   # fen
    assert result.ok
    balance = client.token.balance("CNY", recipient)                   # proven read
"""

from jinqiao.client.client import (
    BatchResult,
    Client,
    ClientError,
    ProvenValue,
    TransactionResult,
)

__all__ = ["BatchResult", "Client", "ClientError", "ProvenValue", "TransactionResult"]
