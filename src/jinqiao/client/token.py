"""SDK helpers for the token contract. Balances are read from state with proofs, so a balance
shown to a user is one the validators signed for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinqiao.apps.token import (
    TOKEN,
    ApproveArgs,
    Asset,
    BurnArgs,
    Holding,
    HoldingArgs,
    MintArgs,
    SetTierArgs,
    TransferArgs,
    TransferFromArgs,
    asset_key,
    balance_key,
    supply_key,
)
from jinqiao.core.codec import decode
from jinqiao.core.crypto import Signer

if TYPE_CHECKING:
    from jinqiao.client.asynchronous import AsyncClient
    from jinqiao.client.client import Client, TransactionResult

MAX_VALUE_BYTES = 4096


class TokenClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    # -- writes ----------------------------------------------------------------------------
    def mint(
        self, issuer: Signer, asset: str, recipient: bytes, amount_minor: int
    ) -> TransactionResult:
        return self._client.send(issuer, TOKEN, "mint", MintArgs(asset, recipient, amount_minor))

    def burn(self, issuer: Signer, asset: str, amount_minor: int) -> TransactionResult:
        return self._client.send(issuer, TOKEN, "burn", BurnArgs(asset, amount_minor))

    def transfer(
        self, payer: Signer, asset: str, recipient: bytes, amount_minor: int
    ) -> TransactionResult:
        return self._client.send(
            payer, TOKEN, "transfer", TransferArgs(asset, recipient, amount_minor)
        )

    def approve(
        self, owner: Signer, asset: str, spender: bytes, amount_minor: int
    ) -> TransactionResult:
        return self._client.send(owner, TOKEN, "approve", ApproveArgs(asset, spender, amount_minor))

    def transfer_from(
        self, spender: Signer, asset: str, owner: bytes, recipient: bytes, amount_minor: int
    ) -> TransactionResult:
        return self._client.send(
            spender, TOKEN, "transfer_from", TransferFromArgs(asset, owner, recipient, amount_minor)
        )

    def freeze(self, regulator: Signer, asset: str, address: bytes) -> TransactionResult:
        return self._client.send(regulator, TOKEN, "freeze", HoldingArgs(asset, address))

    def unfreeze(self, regulator: Signer, asset: str, address: bytes) -> TransactionResult:
        return self._client.send(regulator, TOKEN, "unfreeze", HoldingArgs(asset, address))

    def set_tier(
        self, regulator: Signer, asset: str, address: bytes, tier: str
    ) -> TransactionResult:
        return self._client.send(regulator, TOKEN, "set_tier", SetTierArgs(asset, address, tier))

    # -- proven reads ----------------------------------------------------------------------
    def holding(
        self,
        asset: str,
        address: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> Holding | None:
        """The proven holding record (``None``: proven absent, i.e. balance 0); with
        ``min_height``, from a node that has committed at least that height."""
        return self._client.read_struct(
            TOKEN, balance_key(asset, address), Holding, height=height, min_height=min_height
        )

    def balance(
        self,
        asset: str,
        address: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> int:
        holding = self.holding(asset, address, height=height, min_height=min_height)
        return 0 if holding is None else holding.balance_minor

    def supply(self, asset: str, *, height: int | None = None) -> int:
        proven = self._client.read_state(TOKEN, supply_key(asset), height=height)
        return supply_of(proven.value)

    def asset(self, asset: str) -> Asset | None:
        return self._client.read_struct(TOKEN, asset_key(asset), Asset)


class AsyncTokenClient:
    """``TokenClient`` for ``AsyncClient``: the same calls, awaited."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def mint(
        self, issuer: Signer, asset: str, recipient: bytes, amount_minor: int
    ) -> TransactionResult:
        args = MintArgs(asset, recipient, amount_minor)
        return await self._client.send(issuer, TOKEN, "mint", args)

    async def burn(self, issuer: Signer, asset: str, amount_minor: int) -> TransactionResult:
        return await self._client.send(issuer, TOKEN, "burn", BurnArgs(asset, amount_minor))

    async def transfer(
        self, payer: Signer, asset: str, recipient: bytes, amount_minor: int
    ) -> TransactionResult:
        args = TransferArgs(asset, recipient, amount_minor)
        return await self._client.send(payer, TOKEN, "transfer", args)

    async def approve(
        self, owner: Signer, asset: str, spender: bytes, amount_minor: int
    ) -> TransactionResult:
        args = ApproveArgs(asset, spender, amount_minor)
        return await self._client.send(owner, TOKEN, "approve", args)

    async def transfer_from(
        self, spender: Signer, asset: str, owner: bytes, recipient: bytes, amount_minor: int
    ) -> TransactionResult:
        args = TransferFromArgs(asset, owner, recipient, amount_minor)
        return await self._client.send(spender, TOKEN, "transfer_from", args)

    async def freeze(self, regulator: Signer, asset: str, address: bytes) -> TransactionResult:
        return await self._client.send(regulator, TOKEN, "freeze", HoldingArgs(asset, address))

    async def unfreeze(self, regulator: Signer, asset: str, address: bytes) -> TransactionResult:
        return await self._client.send(regulator, TOKEN, "unfreeze", HoldingArgs(asset, address))

    async def set_tier(
        self, regulator: Signer, asset: str, address: bytes, tier: str
    ) -> TransactionResult:
        args = SetTierArgs(asset, address, tier)
        return await self._client.send(regulator, TOKEN, "set_tier", args)

    async def holding(
        self,
        asset: str,
        address: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> Holding | None:
        key = balance_key(asset, address)
        return await self._client.read_struct(
            TOKEN, key, Holding, height=height, min_height=min_height
        )

    async def balance(
        self,
        asset: str,
        address: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> int:
        holding = await self.holding(asset, address, height=height, min_height=min_height)
        return 0 if holding is None else holding.balance_minor

    async def supply(self, asset: str, *, height: int | None = None) -> int:
        proven = await self._client.read_state(TOKEN, supply_key(asset), height=height)
        return supply_of(proven.value)

    async def asset(self, asset: str) -> Asset | None:
        return await self._client.read_struct(TOKEN, asset_key(asset), Asset)


def supply_of(value: bytes | None) -> int:
    """An asset's supply from its proven state value (absent: 0)."""
    return 0 if value is None else decode(value, int, max_bytes=MAX_VALUE_BYTES)


__all__ = ["AsyncTokenClient", "TokenClient"]
