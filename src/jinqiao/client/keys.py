"""SDK calls of signing policies (docs/keys.md "Signing policies"): read an account's policy with a
proof, set it, rotate a key, revoke a key; and ``AccountKey``, the signer of a policy member.

    treasury = AccountKey(load_key(Path("ops-2.json")), treasury_address)   # a member's key
    client.token.transfer(treasury, "CNY", payee, 5_000)                      # signs as the account
    client.keys.rotate(treasury, old_public_key, new_public_key)             # same address
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinqiao.apps.registry import (
    ApprovalArgs,
    KeyArgs,
    ProposeTransactionArgs,
    RotateKeyArgs,
    SetPolicyArgs,
)
from jinqiao.client.outcome import ClientError
from jinqiao.core.codec import CanonicalStruct, encode
from jinqiao.core.crypto import CryptoSuite, Signer
from jinqiao.execution.identity import (
    REGISTRY,
    Account,
    AmountRule,
    PolicyKey,
    SigningPolicy,
    account_key,
    implicit_policy,
    policy_key,
)

if TYPE_CHECKING:
    from jinqiao.client.client import Client, TransactionResult


class AccountKey:
    """A ``Signer`` that signs for the account at ``address`` with ``key``, one of the keys of
    the account's signing policy (after a rotation, or in a policy of several keys, the key's
    own address is not the account's)."""

    def __init__(self, key: Signer, address: bytes) -> None:
        self.key = key
        self.suite: CryptoSuite = key.suite
        self.public_key = key.public_key
        self.address = address

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def secret_key(self) -> bytes:
        return self.key.secret_key()


class KeysClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    # -- writes, each signed under the account's current policy ----------------------------
    def set_policy(
        self,
        account: Signer,
        keys: tuple[PolicyKey, ...],
        threshold: int,
        amount_rules: tuple[AmountRule, ...] = (),
    ) -> TransactionResult:
        args = SetPolicyArgs(keys, threshold, amount_rules)
        return self._client.send(account, REGISTRY, "set_policy", args)

    def rotate(
        self, account: Signer, old_public_key: bytes, new_public_key: bytes
    ) -> TransactionResult:
        args = RotateKeyArgs(old_public_key, new_public_key)
        return self._client.send(account, REGISTRY, "rotate_key", args)

    def revoke(self, account: Signer, public_key: bytes) -> TransactionResult:
        return self._client.send(account, REGISTRY, "revoke_key", KeyArgs(public_key))

    def propose(
        self,
        account: Signer,
        contract: str,
        method: str,
        args: CanonicalStruct,
        expires_at_height: int,
    ) -> TransactionResult:
        """Collect signatures on chain for a call of ``account``'s; the receipt's result is the
        approval's hash, the hash of this transaction (``result.transaction_hash``)."""
        proposal = ProposeTransactionArgs(contract, method, encode(args), expires_at_height)
        return self._client.send(account, REGISTRY, "propose_transaction", proposal)

    def approve(self, account: Signer, approval_hash: bytes) -> TransactionResult:
        """Co-sign a pending approval with another key of ``account``'s policy; the call runs
        in this block when the signatures meet the policy."""
        return self._client.send(
            account, REGISTRY, "approve_transaction", ApprovalArgs(approval_hash)
        )

    # -- proven reads ----------------------------------------------------------------------
    def policy(self, address: bytes) -> SigningPolicy:
        """The account's policy, proven; the implicit one (its registered key alone) when the
        account set none. Raises ``ClientError`` ``unknown_account`` for no account."""
        policy = self._client.read_struct(REGISTRY, policy_key(address), SigningPolicy)
        if policy is not None:
            return policy
        account = self._client.read_struct(REGISTRY, account_key(address), Account)
        if account is None:
            raise ClientError("unknown_account", f"no account {address.hex()}")
        return implicit_policy(account)
