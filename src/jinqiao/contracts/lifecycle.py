"""The lifecycle of a member contract on chain: propose a package, each organization approves
its exact hash, and at the governance quorum it is committed and callable by its name.

``Lifecycle`` is a runtime contract (namespace ``contracts``):

- ``propose(manifest, source)`` (role ``admin``): the package is reviewed in the transaction —
  the same rules as ``jinqiao contract check``, so every node reaches the same verdict — and
  stored under its hash (``package_hash``). A refused package is rejected ``package_refused``
  naming the first finding; a name of a built-in contract ``name_taken``; a version already
  proposed for the name ``version_exists``.
- ``approve(hash)`` (role ``admin``): the sender's organization approves that exact hash, once
  (``already_approved``). When the approving organizations reach the governance quorum (the
  chain parameters' ``governance_quorum_numerator/denominator`` of active organizations) the
  package is committed: ``deployed/<name>`` holds its hash, replacing an earlier version.
- ``package(hash)`` (query): name, version, status and the approving organizations.

``MemberContracts.resolve`` gives the runtime the committed contract of a name (compiled once per
package hash), so a transaction to ``<name>`` runs the committed version.

State layout (namespace ``contracts``): ``package/<hash>`` → ``PackageRecord``;
``deployed/<name>`` → the committed package's hash (32 bytes); ``paused/<name>`` → present
while governance has the contract paused (``set_paused``, through a ``CallContract`` proposal);
``version/<name>/<version>`` → the hash proposed with that version; ``address/<address>`` → the
name whose contract acts as that 20-byte address (written at a name's first commit), so the token
lets a committed member contract hold and pay CNY (``is_member_address``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from jinqiao.contracts.host import (
    LIFECYCLE_NAMESPACE,
    PAUSED_PREFIX,
    member_contract,
    parse_manifest,
)
from jinqiao.contracts.package import review_package
from jinqiao.core.codec import CanonicalStruct, decode_stored, encode
from jinqiao.core.errors import InvalidInput
from jinqiao.core.genesis import ADMIN_ROLE
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    GOVERNANCE,
    REGISTRY,
    Context,
    Contract,
    method,
    query,
)

LIFECYCLE = LIFECYCLE_NAMESPACE
PROPOSED = "proposed"
COMMITTED = "committed"
ACTIVE_ORGANIZATIONS_KEY = b"active_organizations"
"""The registry's count of active organizations (``jinqiao.apps.registry``: the quorum's
denominator, as governance reads it)."""
MAX_COMPILED = 64

StateGet = Callable[[bytes], bytes | None]
"""A read of committed (or block) state by full key."""


class PackageRecord(CanonicalStruct, frozen=True):
    name: str
    version: str
    manifest: str
    source: str
    proposer_organization: str
    approvals: tuple[str, ...]
    status: str


class ProposeArgs(CanonicalStruct, frozen=True):
    manifest: str
    source: str


class PackageArgs(CanonicalStruct, frozen=True):
    package_hash: bytes


class SetPausedArgs(CanonicalStruct, frozen=True):
    """Pause (``paused``) or resume a member contract by name: governance only."""

    contract_name: str
    paused: bool


class PackageView(CanonicalStruct, frozen=True):
    name: str
    version: str
    status: str
    approvals: tuple[str, ...]


def package_hash(manifest: str, source: str) -> bytes:
    """What reviewers approve: SHA-256 of the canonical encoding of (manifest, source)."""
    return hashlib.sha256(encode((manifest, source))).digest()


def package_key(hash_bytes: bytes) -> bytes:
    return b"package/" + hash_bytes


def deployed_key(name: str) -> bytes:
    return b"deployed/" + name.encode()


def paused_key(name: str) -> bytes:
    return PAUSED_PREFIX + name.encode()


def address_key(address: bytes) -> bytes:
    return b"address/" + address


def version_key(name: str, version: str) -> bytes:
    return b"version/" + name.encode() + b"/" + version.encode()


class Lifecycle(Contract):
    """Proposals, approvals and commits of member packages (module docstring)."""

    name = LIFECYCLE

    @method(ProposeArgs, roles=(ADMIN_ROLE,))
    def propose(self, ctx: Context, args: ProposeArgs) -> bytes:
        findings = review_package(args.manifest, args.source)
        if findings:
            first = findings[0]
            ctx.reject(
                "package_refused",
                f"{len(findings)} findings; first {first.describe('contract.py')}",
            )
        manifest = parse_manifest(args.manifest)
        if ctx.is_contract(ctx.contract_address(manifest.name)):
            ctx.reject("name_taken", f"{manifest.name!r} is a built-in contract")
        if ctx.state.get(version_key(manifest.name, manifest.version)) is not None:
            ctx.reject("version_exists", f"{manifest.name} {manifest.version} was proposed")
        hash_bytes = package_hash(args.manifest, args.source)
        record = PackageRecord(
            manifest.name,
            manifest.version,
            args.manifest,
            args.source,
            ctx.organization,
            (),
            PROPOSED,
        )
        ctx.state.save(package_key(hash_bytes), record)
        ctx.state.set(version_key(manifest.name, manifest.version), hash_bytes)
        ctx.emit(
            "PackageProposed",
            package_hash=hash_bytes,
            contract_name=manifest.name,
            version=manifest.version,
            organization=ctx.organization,
        )
        return hash_bytes

    @method(PackageArgs, roles=(ADMIN_ROLE,))
    def approve(self, ctx: Context, args: PackageArgs) -> None:
        record = ctx.state.load(package_key(args.package_hash), PackageRecord)
        if record is None:
            ctx.reject("unknown_package", "no package has this hash")
        if record.status != PROPOSED:
            ctx.reject("package_committed", "the package is already committed")
        if ctx.organization in record.approvals:
            ctx.reject("already_approved", f"{ctx.organization} approved this package")
        approvals = tuple(sorted((*record.approvals, ctx.organization)))
        parameters = ctx.parameters()
        active = ctx.read(REGISTRY, ACTIVE_ORGANIZATIONS_KEY, int) or 0
        committed = active > 0 and (
            len(approvals) * parameters.governance_quorum_denominator
            >= parameters.governance_quorum_numerator * active
        )
        status = COMMITTED if committed else PROPOSED
        record = PackageRecord(
            record.name,
            record.version,
            record.manifest,
            record.source,
            record.proposer_organization,
            approvals,
            status,
        )
        ctx.state.save(package_key(args.package_hash), record)
        ctx.emit("PackageApproved", package_hash=args.package_hash, organization=ctx.organization)
        if committed:
            upgrade = ctx.state.get(deployed_key(record.name)) is not None
            ctx.state.set(deployed_key(record.name), args.package_hash)
            if not upgrade:
                # From now on the token pays to and from this address (``is_member_address``).
                ctx.state.set(address_key(ctx.contract_address(record.name)), record.name.encode())
            migration = parse_manifest(record.manifest).migration
            if upgrade and migration:
                # Run once, as this transaction: a rejection rejects the approval, and the
                # version in force stays the old one.
                ctx.call_encoded(record.name, migration, encode(()))
            ctx.emit(
                "PackageCommitted",
                package_hash=args.package_hash,
                contract_name=record.name,
                version=record.version,
            )

    @method(SetPausedArgs, roles=(CONTRACT_ROLE,))
    def set_paused(self, ctx: Context, args: SetPausedArgs) -> None:
        """Through a governance proposal (``CallContract``): a paused contract's methods are
        rejected ``contract_paused``; its queries still answer."""
        if ctx.sender != ctx.contract_address(GOVERNANCE):
            ctx.reject("unauthorized", "only governance pauses or resumes a contract")
        if ctx.state.get(deployed_key(args.contract_name)) is None:
            ctx.reject("unknown_contract", f"no member contract {args.contract_name[:64]!r}")
        if args.paused:
            ctx.state.save(paused_key(args.contract_name), True)
        else:
            ctx.state.delete(paused_key(args.contract_name))
        ctx.emit(
            "ContractPaused" if args.paused else "ContractResumed",
            contract_name=args.contract_name,
        )

    @query(PackageArgs)
    def package(self, ctx: Context, args: PackageArgs) -> PackageView:
        record = ctx.state.load(package_key(args.package_hash), PackageRecord)
        if record is None:
            ctx.reject("unknown_package", "no package has this hash")
        return PackageView(record.name, record.version, record.status, record.approvals)


class MemberContracts:
    """The runtime's resolver of committed member contracts: a name's committed package,
    compiled once per hash (at most ``MAX_COMPILED`` kept)."""

    def __init__(self) -> None:
        self.compiled: OrderedDict[bytes, Contract] = OrderedDict()

    def is_member_address(self, read: StateGet, address: bytes) -> bool:
        """Whether ``address`` is the address of a committed member contract (the runtime's
        ``member_address``): ``address/<address>`` is written when a name is first committed."""
        return read(LIFECYCLE.encode() + b"/" + address_key(address)) is not None

    def resolve(self, read: StateGet, name: str) -> Contract | None:
        hash_bytes = read(LIFECYCLE.encode() + b"/" + deployed_key(name))
        if hash_bytes is None:
            return None
        contract = self.compiled.get(hash_bytes)
        if contract is not None:
            self.compiled.move_to_end(hash_bytes)
            return contract
        raw = read(LIFECYCLE.encode() + b"/" + package_key(hash_bytes))
        if raw is None:
            return None
        record = decode_stored(raw, PackageRecord)
        try:
            contract = member_contract(record.manifest, record.source)
        except InvalidInput:
            return None  # reviewed when proposed: only a change of the rules gets here
        self.compiled[hash_bytes] = contract
        if len(self.compiled) > MAX_COMPILED:
            self.compiled.popitem(last=False)
        return contract
