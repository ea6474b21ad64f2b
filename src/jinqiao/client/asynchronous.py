"""``AsyncClient``: the SDK for asyncio programs, over ``httpx.AsyncClient``.

It runs the same protocol as ``Client`` (``jinqiao.client.core``): the same four outcomes of a
submission, the same retries honouring ``Retry-After``, the same failover across the network's
nodes and the same proof checks. What it covers is listed in
docs/adr/0038-async-client.md; the rest is ``Client``'s alone.

    async with AsyncClient(url, genesis_file=Path("net/genesis.json"), credentials=...) as client:
        result = await client.token.transfer(payer, "CNY", payee, 12_345)
        balance = await client.token.balance("CNY", payer.address)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from jinqiao.client import core
from jinqiao.client.core import DEFAULT_VALID_FOR_BLOCKS, ProvenValue, TransactionResult
from jinqiao.client.credentials import Credentials
from jinqiao.client.outcome import PendingTransaction, retrying_async
from jinqiao.client.signing import MessageSignatureAuth
from jinqiao.client.token import AsyncTokenClient
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.crypto import Signer
from jinqiao.core.genesis import Genesis, load_genesis
from jinqiao.core.proofs import StateReadProof
from jinqiao.core.types import BlockHeader, SignedTransaction, ValidatorSet
from jinqiao.execution.identity import Account

T = TypeVar("T")


class AsyncClient:
    """``Client``'s core reads, submissions and the token contract, awaited. Unlike ``Client``
    it needs the network's genesis (``genesis_file`` or ``genesis``): it does not trust a node
    for it."""

    journal: Callable[[str, bytes], None] | None = None
    """Called with a transaction's hash and canonical bytes before they are sent."""
    commit_timeout_s: float = 30.0
    """How long ``send`` waits for the commit; 0 returns at admission."""

    def __init__(
        self,
        url: str,
        *,
        genesis_file: Path | None = None,
        genesis: Genesis | None = None,
        verify: bool = True,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        other_urls: Sequence[str] = (),
        credentials: Credentials | None = None,
        signer: Signer | None = None,
        roots_file: Path | None = None,
    ) -> None:
        if genesis is None and genesis_file is not None:
            genesis = load_genesis(genesis_file.read_bytes())
        if genesis is None:
            raise ValueError("AsyncClient needs the network's genesis (genesis_file or genesis)")
        urls = core.node_urls(url, other_urls)
        self.url = urls[0]
        tls = core.tls_settings(credentials, roots_file)
        auth = MessageSignatureAuth(signer) if signer is not None else None
        nodes = [
            httpx.AsyncClient(
                base_url=node_url, timeout=timeout_s, transport=transport, verify=tls, auth=auth
            )
            for node_url in urls
        ]
        self._failover = core.Failover(nodes, core.url_of)
        self.genesis = genesis
        self.suite = genesis.suite
        self._session = core.Session(genesis, verify)
        self.token = AsyncTokenClient(self)

    async def aclose(self) -> None:
        for node in self._failover.nodes:
            await node.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def verify(self) -> bool:
        return self._session.verify

    # -- plumbing --------------------------------------------------------------------------
    async def _run(self, flow: core.Flow[T]) -> T:
        return await core.run_async(flow, self._send)

    async def _send(self, request: core.Request) -> Any:
        arguments = request.arguments()

        async def attempt() -> httpx.Response:
            return await self._send_to_any_node(request.method, request.path, arguments)

        return core.answer_of(request, await retrying_async(attempt))

    async def _send_to_any_node(
        self, method: str, path: str, arguments: dict[str, Any]
    ) -> httpx.Response:
        for node in self._failover.round():
            try:
                response = await node.request(method, path, **arguments)
            except httpx.TransportError as exc:
                self._failover.failed(node, exc)
                continue
            self._failover.answered(node)
            return response
        raise self._failover.unreachable()

    def _commit_timeout(self, timeout_s: float | None) -> float:
        return self.commit_timeout_s if timeout_s is None else timeout_s

    # -- transactions ----------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        return await self._run(core.status(self._session))

    async def build(
        self,
        signer: Signer,
        contract: str,
        method: str,
        args: CanonicalStruct,
        *,
        valid_for_blocks: int = DEFAULT_VALID_FOR_BLOCKS,
        nonce: int | None = None,
        height: int | None = None,
    ) -> SignedTransaction:
        flow = core.build(
            self._session,
            signer,
            contract,
            method,
            args,
            valid_for_blocks=valid_for_blocks,
            nonce=nonce,
            height=height,
        )
        return await self._run(flow)

    def hash_of(self, transaction: SignedTransaction) -> str:
        return self._session.hash_of(transaction)

    async def submit(self, transaction: SignedTransaction) -> str:
        identity, raw = core.encoded(self._session, transaction)
        if self.journal is not None:
            self.journal(identity, raw)
        return await self._run(core.submit_bytes(identity, raw))

    async def wait(self, transaction_hash_: str, *, timeout_s: float = 30.0) -> TransactionResult:
        return await self._run(core.wait(self._session, transaction_hash_, timeout_s))

    async def send(
        self,
        signer: Signer,
        contract: str,
        method: str,
        args: CanonicalStruct,
        *,
        timeout_s: float | None = None,
    ) -> TransactionResult:
        transaction = core.build(self._session, signer, contract, method, args)
        timeout = self._commit_timeout(timeout_s)
        return await self._run(core.send(self._session, transaction, timeout, self.journal))

    async def lookup(self, transaction_hash_: str) -> TransactionResult | PendingTransaction | None:
        return await self._run(core.lookup(self._session, transaction_hash_))

    async def resend(
        self, transaction: SignedTransaction, *, timeout_s: float | None = None
    ) -> TransactionResult:
        timeout = self._commit_timeout(timeout_s)
        return await self._run(core.resend(self._session, transaction, timeout))

    # -- reads -----------------------------------------------------------------------------
    async def validators_for(self, header: BlockHeader) -> ValidatorSet:
        return await self._run(core.validators_for(self._session, header))

    async def read_state(
        self,
        contract: str,
        key: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> ProvenValue:
        return await self._run(core.read_state(self._session, contract, key, height, min_height))

    async def state_read_proof(
        self,
        contract: str,
        key: bytes,
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> StateReadProof:
        return await self._run(core.state_read_proof(contract, key, height, min_height))

    async def read_struct(
        self,
        contract: str,
        key: bytes,
        kind: type[T],
        *,
        height: int | None = None,
        min_height: int | None = None,
    ) -> T | None:
        flow = core.read_struct(self._session, contract, key, kind, height, min_height)
        return await self._run(flow)

    async def account(
        self, address: bytes, *, height: int | None = None, min_height: int | None = None
    ) -> Account | None:
        return await self._run(core.account(self._session, address, height, min_height))

    async def block(
        self,
        height: int | None = None,
        *,
        transactions: bool = False,
        block_hash: bytes | None = None,
    ) -> dict[str, Any]:
        return await self._run(core.block(self._session, height, transactions, block_hash))


__all__ = ["AsyncClient"]
