"""A query run again on proven state (docs/proofs.md §9.5): the node answers a query with every
state key it read, proven against one header; the SDK runs the same query — the same contract
code, the same pure function — over exactly those proven values and that header's height and
time. The result it returns is the one it computed, never the node's. A query that reads a key
the node did not prove fails verification."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from jinqiao.apps import default_contracts
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import Genesis
from jinqiao.core.proofs import StateReadsProof
from jinqiao.execution.contract import BlockContext, Contract, MethodSpec
from jinqiao.execution.runtime import Runtime
from jinqiao.verify import VerificationError


class ProvenState:
    """A ``StateReader`` holding only proven values: reading any other key is an error."""

    def __init__(
        self, proof: StateReadsProof, also: Mapping[bytes, bytes | None] | None = None
    ) -> None:
        """``also``: values proven separately at the same height (``Client.proven_query``: a
        member contract's package)."""
        self.values = {read.key: read.value for read in proof.reads}
        self.values.update(also or {})

    def get(self, key: bytes) -> bytes | None:
        if key not in self.values:
            raise VerificationError(
                f"the query reads {key[:80]!r}, which the node's answer does not prove"
            )
        return self.values[key]


class MemberResolver:
    """Members' committed contracts, found as the node finds them
    (``jinqiao.contracts.lifecycle.MemberContracts``: the lifecycle's ``deployed/<name>`` and
    the package under its hash, both read from the proven state); the review and the sandbox
    load on the first query of a member contract, not with every client."""

    def __init__(self) -> None:
        self._members: Any = None

    def resolve(self, read: Callable[[bytes], bytes | None], name: str) -> Contract | None:
        if self._members is None:
            from jinqiao.contracts.lifecycle import MemberContracts

            self._members = MemberContracts()
        found: Contract | None = self._members.resolve(read, name)
        return found


class QueryRunner:
    """The network's contracts in a runtime of the client's own, for queries only: the
    built-in ones, and members' committed ones found in the proven state."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.runtime = Runtime(
            genesis.suite,
            genesis.chain_id,
            default_contracts(),
            resolver=MemberResolver().resolve,
        )

    def is_built_in(self, contract: str) -> bool:
        """Whether ``contract`` is built in (else a member's, whose argument types are known
        only from the proven state: ``member_arguments``)."""
        return contract in self.runtime.contracts

    def argument_names(self, contract: str, method: str) -> tuple[str, ...] | None:
        """The names of a built-in method's arguments, in their encoded order (``None`` for a
        member's contract or an unknown method)."""
        spec = self.runtime.method_spec(contract, method)
        if spec is None:
            return None
        return tuple(field.name for field in msgspec.structs.fields(spec.args_type))

    def member_arguments(
        self,
        proof: StateReadsProof,
        contract: str,
        name: str,
        arguments: dict[str, Any],
        also: Mapping[bytes, bytes | None] | None = None,
    ) -> Any:
        """A member contract's query arguments, typed by the package committed in the proven
        state (``also``: the package, when the node's answer did not read it)."""
        found = self.runtime.find_contract(ProvenState(proof, also), contract)
        spec = None if found is None else found.methods.get(name)
        return self._convert(spec, contract, name, arguments)

    def arguments(self, contract: str, name: str, arguments: dict[str, Any]) -> Any:
        """The query's argument struct from keyword arguments (bytes as bytes)."""
        return self._convert(self.runtime.method_spec(contract, name), contract, name, arguments)

    def _convert(
        self, spec: MethodSpec | None, contract: str, name: str, arguments: dict[str, Any]
    ) -> Any:
        if spec is None or not spec.read_only:
            raise InvalidInput(f"no query {contract}.{name}", code="unknown_method")
        fields = msgspec.structs.fields(spec.args_type)
        missing = [field.name for field in fields if field.name not in arguments]
        unknown = sorted(set(arguments) - {field.name for field in fields})
        if missing or unknown:
            raise InvalidInput(
                f"{contract}.{name} takes {[field.name for field in fields]}",
                code="invalid_arguments",
            )
        try:
            return msgspec.convert(
                [arguments[field.name] for field in fields], spec.args_type, strict=True
            )
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"{contract}.{name}: {exc}", code="invalid_arguments") from None

    def arguments_from_json(
        self, contract: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Keyword arguments for ``arguments`` from a query's JSON body, where bytes are hex
        (as the API takes them)."""
        spec = self.runtime.method_spec(contract, name)
        if spec is None or not spec.read_only:
            raise InvalidInput(f"no query {contract}.{name}", code="unknown_method")
        arguments = dict(body)
        for field in msgspec.structs.fields(spec.args_type):
            value = arguments.get(field.name)
            if field.type is bytes and isinstance(value, str):
                try:
                    arguments[field.name] = bytes.fromhex(value)
                except ValueError:
                    raise InvalidInput(
                        f"{contract}.{name}: {field.name} is not hex", code="invalid_arguments"
                    ) from None
        return arguments

    def run(
        self,
        proof: StateReadsProof,
        contract: str,
        name: str,
        arguments: Any,
        also: Mapping[bytes, bytes | None] | None = None,
    ) -> Any:
        """The query's result computed from ``proof``'s values (and ``also``) at its header."""
        header = proof.header
        context = BlockContext(self.genesis.chain_id, header.height, header.time_ms, b"")
        state = ProvenState(proof, also)
        return self.runtime.run_query(state, context, contract, name, arguments)


__all__ = ["MemberResolver", "ProvenState", "QueryRunner"]
