"""SDK of members' contracts (``docs/contracts.md``): propose a package, approve its exact hash
for the sender's organization, read where it stands with a proof, call a committed contract by
its manifest, and propose to governance pausing or resuming it.

Writes return the ``TransactionResult`` (a rejection is a committed receipt with its code, not an
exception). ``package`` and ``deployed`` read the lifecycle's state with proofs
(``Client.read_struct``), so "who approved" is what the validators signed. ``call`` builds the
arguments from the package's manifest — the same struct the node decodes — so a member contract
needs no Python class on the caller's side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from jinqiao.apps.governance import CallContract, ProposeArgs
from jinqiao.client.outcome import ClientError
from jinqiao.core.codec import decode, encode
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput
from jinqiao.execution.api import GOVERNANCE, contract_address

if TYPE_CHECKING:
    from jinqiao.client.client import Client, TransactionResult
    from jinqiao.contracts.lifecycle import PackageRecord

# jinqiao.contracts (the review and the sandbox, RestrictedPython) loads on the first call of a
# method here, not with every Client.
LIFECYCLE = "contracts"

HASH_BYTES = 32
MAX_PROPOSAL_ID_BYTES = 16


class ContractsClient:
    def __init__(self, client: Client) -> None:
        self._client = client

    # -- the lifecycle (writes) ------------------------------------------------------------
    def propose(self, admin: Signer, manifest: str, source: str) -> tuple[TransactionResult, bytes]:
        """Propose a package (an organization admin); the result and the package's hash, which
        is what every organization then approves (computed here as the node does)."""
        from jinqiao.contracts.lifecycle import ProposeArgs as ProposePackageArgs
        from jinqiao.contracts.lifecycle import package_hash

        result = self._client.send(
            admin, LIFECYCLE, "propose", ProposePackageArgs(manifest, source)
        )
        return result, package_hash(manifest, source)

    def approve(self, admin: Signer, package_hash_: bytes) -> TransactionResult:
        """Approve that exact package for the admin's organization; the approval that reaches
        the quorum commits it (event ``PackageCommitted``), running a migration if it names
        one."""
        from jinqiao.contracts.lifecycle import PackageArgs

        return self._client.send(admin, LIFECYCLE, "approve", PackageArgs(package_hash_))

    def propose_pause(
        self, admin: Signer, contract_name: str, *, paused: bool = True
    ) -> tuple[TransactionResult, int | None]:
        """Propose to governance pausing (or, ``paused=False``, resuming) a member contract;
        the result and the proposal's id, which the other organizations' admins approve."""
        from jinqiao.contracts.lifecycle import SetPausedArgs

        action = CallContract(LIFECYCLE, "set_paused", encode(SetPausedArgs(contract_name, paused)))
        result = self._client.send(admin, GOVERNANCE, "propose", ProposeArgs(action))
        proposal_id = (
            decode(result.receipt.result, int, max_bytes=MAX_PROPOSAL_ID_BYTES)
            if result.ok
            else None
        )
        return result, proposal_id

    # -- calls -----------------------------------------------------------------------------
    def address(self, contract_name: str) -> bytes:
        """The address a member contract acts as: it holds CNY there, so a payer ``approve``s
        it on the token (the contract pulls the allowance) or transfers to it, and
        ``client.token.balance("CNY", address)`` reads what it holds. The address exists
        before the contract does, but the token pays to it only once it is committed."""
        return contract_address(self._client.suite.hash, contract_name)

    def call(
        self, sender: Signer, manifest: str, method_name: str, **arguments: Any
    ) -> TransactionResult:
        """Call ``method_name`` of the contract the ``manifest`` describes, with its arguments
        by name (bytes as bytes). ``InvalidInput`` (``unknown_method``, ``invalid_arguments``)
        before anything is sent when they do not match the manifest."""
        from jinqiao.contracts.host import argument_type, parse_manifest

        parsed = parse_manifest(manifest)
        entry = next((entry for entry in parsed.methods if entry.name == method_name), None)
        if entry is None or entry.kind != "method":
            raise InvalidInput(
                f"{parsed.name} has no method {method_name!r}", code="unknown_method"
            )
        names = [name for name, _ in entry.arguments]
        if sorted(names) != sorted(arguments):
            raise InvalidInput(
                f"{parsed.name}.{method_name} takes {names}", code="invalid_arguments"
            )
        try:
            args = msgspec.convert(
                [arguments[name] for name in names],
                argument_type(parsed.name, entry),
                strict=True,
            )
        except msgspec.ValidationError as exc:
            raise InvalidInput(
                f"{parsed.name}.{method_name}: {exc}", code="invalid_arguments"
            ) from None
        return self._client.send(sender, parsed.name, method_name, args)

    # -- proven reads ----------------------------------------------------------------------
    def package(
        self, package_hash_: bytes, *, min_height: int | None = None
    ) -> PackageRecord | None:
        """The package's record (name, version, status, approving organizations, the
        manifest and source), proven; ``None`` when proven absent."""
        from jinqiao.contracts.lifecycle import PackageRecord, package_key

        return self._client.read_struct(
            LIFECYCLE, package_key(package_hash_), PackageRecord, min_height=min_height
        )

    def deployed(self, contract_name: str, *, min_height: int | None = None) -> bytes | None:
        """The hash of the package in force under ``contract_name``, proven; ``None`` when
        none is committed."""
        from jinqiao.contracts.lifecycle import deployed_key

        proven = self._client.read_state(
            LIFECYCLE, deployed_key(contract_name), min_height=min_height
        )
        if proven.value is not None and len(proven.value) != HASH_BYTES:
            raise ClientError("bad_response", "a deployed package hash is 32 bytes")
        return proven.value


__all__ = ["ContractsClient"]
