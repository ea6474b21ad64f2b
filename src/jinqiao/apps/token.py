"""The token contract: digital currency in integer minor units, with wallet tiers.

An *asset* has a symbol (``CNY``), a name, a scale (2: amounts are fen, 1 CNY = 100 minor units)
and an issuer organization. Only accounts with role ``currency_issuer`` of that organization
``mint`` (to any registered account) and ``burn`` (from their own balance). Holders ``transfer``,
``approve`` a spender and spenders ``transfer_from`` with ERC-20 semantics: ``approve`` sets the
allowance, ``transfer_from`` lowers it by the amount, every move emits ``Transfer`` (zero-value
moves too) and every allowance change emits ``Approval``. Minting and burning emit ``Transfer``
from and to ``MINT_BURN_ADDRESS`` (twenty zero bytes), so the ``Transfer`` events alone rebuild
every balance.

Every holding (asset, account) has a *tier* that bounds the holder's balance (checked when
receiving, including minting), each payment and the outgoing total per UTC day
(``day = block time_ms // 86_400_000``). Transfers and ``transfer_from`` are payments of the payer;
mint and burn are not. Tier limits are in the minor units of the asset they are applied to; a
network with assets of different scales defines separate tiers per asset (``default_tier`` is set
per asset). Regulators (role ``regulator``, any organization) ``freeze`` and ``unfreeze`` a
holding and ``set_tier``: a tier reflects how well the holder's identity was verified, which the
regulator's rules decide, so one authority assigns tiers. A frozen holding neither sends nor
receives (``account_frozen``); the freeze is per asset, and a frozen holder may still
``approve`` (spending that allowance is a move, and refused). Recipients and spenders must be
registered accounts or contracts of the network — built in (``ctx.is_contract``) or a member's
contract committed through the lifecycle (``ctx.is_member_contract``, asked only of an address
that is no account): a contract may hold a balance (the payments contract's settlement escrow, a
member's escrow) and spend it with ``transfer`` (a call whose sender is the contract, role
``contract``); it is not a wallet, so no tier limits apply to it, paying or receiving. A tier
change that the current balance would break is refused, so ``balance <= tier
max_balance_minor`` always holds for accounts. A party on the consortium deny list (an account,
or every account of an organization; ``jinqiao.apps.aml``, changed by governance) neither pays
nor is paid, is not minted to, does not burn and does not spend an allowance
(``party_denied``); the check reads one governance counter while the list is empty.

Amounts are ``int`` in ``0..MAX_AMOUNT_MINOR``; every sum is checked against that bound
(``amount_overflow``). ``supply/<asset>`` equals the sum of all balances of the asset at every
commit (tested by ``tests/property/test_token_properties.py``).

State layout (namespace ``token``; the full key is ``b"token/" + key``; ``<asset>`` is the
ASCII symbol, ``<address>`` the raw 20 bytes):

======================================  =========================================================
key                                     value
======================================  =========================================================
``asset/<asset>``                       ``Asset``
``tier/<name>``                         ``Tier``
``supply/<asset>``                      ``int`` total supply in minor units (absent means 0)
``balance/<asset>/<address>``           ``Holding``: balance, tier, frozen flag and the day's
                                        outgoing total (absent means balance 0, the asset's
                                        default tier, not frozen)
``allowance/<asset>/<owner>/<spender>`` ``int`` remaining allowance (absent means 0)
======================================  =========================================================

``balance_key``, ``supply_key``, ``allowance_key``, ``asset_key`` and ``tier_key`` build these
keys (without the ``token/`` prefix), so the API can read a value and prove it against a header.

Cost: a ``transfer`` makes 6 state reads (asset, payer holding, recipient account, recipient
holding, the deny list's size, payer tier — plus the recipient's tier when it differs, and one
read more when the recipient is a member's contract), 2 writes and 1 event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from jinqiao.apps.aml import check_not_denied
from jinqiao.apps.registry import check_address
from jinqiao.core.codec import CanonicalStruct
from jinqiao.core.errors import InvalidInput, NodeFault, require
from jinqiao.core.genesis import IDENTIFIER, REGULATOR_ROLE, Genesis
from jinqiao.core.limits import MAX_AMOUNT_MINOR, MAX_NAME_LENGTH
from jinqiao.core.names import check_name
from jinqiao.core.types import ADDRESS_BYTES
from jinqiao.execution.api import (
    CONTRACT_ROLE,
    Context,
    Contract,
    GenesisContext,
    check_amount,
    check_bound,
    method,
    query,
)

TOKEN = "token"  # noqa: S105 (the contract name, not a secret)
ISSUER_ROLE = "currency_issuer"
DAY_MS = 86_400_000
MAX_SCALE = 18
MAX_ASSETS = 64
MAX_TIERS = 64
MINT_BURN_ADDRESS = bytes(ADDRESS_BYTES)
SYMBOL = re.compile(r"[A-Z][A-Z0-9]{1,11}")

ASSET_PREFIX = b"asset/"
TIER_PREFIX = b"tier/"
SUPPLY_PREFIX = b"supply/"
BALANCE_PREFIX = b"balance/"
ALLOWANCE_PREFIX = b"allowance/"


def asset_key(asset: str) -> bytes:
    return ASSET_PREFIX + asset.encode()


def tier_key(tier: str) -> bytes:
    return TIER_PREFIX + tier.encode()


def supply_key(asset: str) -> bytes:
    return SUPPLY_PREFIX + asset.encode()


def balance_key(asset: str, address: bytes) -> bytes:
    """Where the ``Holding`` of ``address`` in ``asset`` lives (full key: ``b"token/" + it``)."""
    return BALANCE_PREFIX + asset.encode() + b"/" + address


def allowance_key(asset: str, owner: bytes, spender: bytes) -> bytes:
    return ALLOWANCE_PREFIX + asset.encode() + b"/" + owner + b"/" + spender


# -- stored records ------------------------------------------------------------------------


class Asset(CanonicalStruct, frozen=True):
    """An asset. Amounts are integers in units of ``10**-scale``."""

    symbol: str
    name: str
    scale: int
    issuer: str
    default_tier: str


class Tier(CanonicalStruct, frozen=True):
    """Wallet limits, in minor units of the asset they apply to."""

    name: str
    max_balance_minor: int
    max_payment_minor: int
    daily_limit_minor: int


class Holding(CanonicalStruct, frozen=True):
    """One account's position in one asset. ``spent_minor`` is the outgoing total of day
    ``spent_day``; on any other day the account has spent nothing yet."""

    balance_minor: int
    tier: str
    frozen: bool
    spent_day: int
    spent_minor: int


# -- arguments ----------------------------------------------------------------------------


class MintArgs(CanonicalStruct, frozen=True):
    """Create ``amount_minor`` of ``asset`` in ``recipient``'s balance (issuer only)."""

    asset: str
    recipient: bytes
    amount_minor: int


class BurnArgs(CanonicalStruct, frozen=True):
    """Destroy ``amount_minor`` of ``asset`` from the sender's own balance (issuer only)."""

    asset: str
    amount_minor: int


class TransferArgs(CanonicalStruct, frozen=True):
    """Pay ``amount_minor`` of ``asset`` from the sender to ``recipient``."""

    asset: str
    recipient: bytes
    amount_minor: int


class ApproveArgs(CanonicalStruct, frozen=True):
    """Allow ``spender`` to move up to ``amount_minor`` of the sender's ``asset`` (replaces any
    earlier allowance)."""

    asset: str
    spender: bytes
    amount_minor: int


class TransferFromArgs(CanonicalStruct, frozen=True):
    """As a spender, pay ``amount_minor`` of ``owner``'s ``asset`` to ``recipient``."""

    asset: str
    owner: bytes
    recipient: bytes
    amount_minor: int


class HoldingArgs(CanonicalStruct, frozen=True):
    """Names one holding: ``freeze``, ``unfreeze`` and the ``balance`` query."""

    asset: str
    address: bytes


class SetTierArgs(CanonicalStruct, frozen=True):
    asset: str
    address: bytes
    tier: str


class AssetArgs(CanonicalStruct, frozen=True):
    asset: str


class AllowanceArgs(CanonicalStruct, frozen=True):
    asset: str
    owner: bytes
    spender: bytes


# -- query results ------------------------------------------------------------------------


class Balance(CanonicalStruct, frozen=True):
    asset: str
    address: bytes
    balance_minor: int
    frozen: bool
    tier: str


class Supply(CanonicalStruct, frozen=True):
    asset: str
    supply_minor: int


class Allowance(CanonicalStruct, frozen=True):
    asset: str
    owner: bytes
    spender: bytes
    amount_minor: int


# -- genesis configuration (``genesis.contracts["token"]``, JSON) -------------------------


class _ConfigStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class TierConfig(_ConfigStruct, frozen=True):
    max_balance_minor: int
    max_payment_minor: int
    daily_limit_minor: int


class AssetConfig(_ConfigStruct, frozen=True):
    symbol: str
    name: str
    scale: int
    issuer: str
    default_tier: str


class HoldingConfig(_ConfigStruct, frozen=True):
    """A genesis holding: ``address`` (hex) of a genesis account, an optional tier other than
    the asset's default, and an amount minted at genesis."""

    asset: str
    address: str
    tier: str | None = None
    balance_minor: int = 0


class TokenConfig(_ConfigStruct, frozen=True):
    """For example::

    {"tiers": {"basic": {"max_balance_minor": 1000000, "max_payment_minor": 500000,
                         "daily_limit_minor": 1000000}},
     "assets": [{"symbol": "CNY", "name": "Digital yuan", "scale": 2, "issuer": "pboc",
                 "default_tier": "basic"}],
     "holdings": [{"asset": "CNY", "address": "…", "tier": "basic", "balance_minor": 100}]}
    """

    tiers: dict[str, TierConfig] = {}
    assets: tuple[AssetConfig, ...] = ()
    holdings: tuple[HoldingConfig, ...] = ()


def load_token_config(config: Mapping[str, Any]) -> TokenConfig:
    try:
        return msgspec.convert(config, TokenConfig, strict=True)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"token genesis configuration: {error}") from None


# -- the contract -------------------------------------------------------------------------


class Token(Contract):
    """Assets, balances, allowances and wallet tiers. See the module docstring."""

    name = TOKEN

    def genesis(self, ctx: GenesisContext, config: Mapping[str, Any]) -> None:
        token_config = load_token_config(config)
        tiers = _genesis_tiers(token_config)
        for name in sorted(tiers):
            ctx.state.save(tier_key(name), tiers[name])
        assets = _genesis_assets(ctx.genesis, token_config, tiers)
        for symbol in sorted(assets):
            ctx.state.save(asset_key(symbol), assets[symbol])
        accounts = {
            ctx.genesis.suite.address(bytes.fromhex(account.public_key))
            for account in ctx.genesis.accounts
        }
        supplies = dict.fromkeys(sorted(assets), 0)
        seen: set[tuple[str, bytes]] = set()
        for entry in token_config.holdings:
            where = f"token holding of {entry.address} in {entry.asset}"
            asset = assets.get(entry.asset)
            if asset is None:
                raise InvalidInput(f"{where}: unknown asset")
            try:
                address = bytes.fromhex(entry.address)
            except ValueError:
                raise InvalidInput(f"{where}: address is not hex") from None
            if address not in accounts:
                raise InvalidInput(f"{where}: not a genesis account")
            if (asset.symbol, address) in seen:
                raise InvalidInput(f"{where}: appears twice")
            seen.add((asset.symbol, address))
            tier = tiers.get(entry.tier or asset.default_tier)
            if tier is None:
                raise InvalidInput(f"{where}: unknown tier {entry.tier!r}")
            if not 0 <= entry.balance_minor <= tier.max_balance_minor:
                raise InvalidInput(f"{where}: balance must be 0..{tier.max_balance_minor}")
            supplies[asset.symbol] += entry.balance_minor
            if supplies[asset.symbol] > MAX_AMOUNT_MINOR:
                raise InvalidInput(f"{where}: supply over {MAX_AMOUNT_MINOR}")
            holding = Holding(entry.balance_minor, tier.name, False, 0, 0)
            ctx.state.save(balance_key(asset.symbol, address), holding)
        for symbol in sorted(supplies):
            ctx.state.save_int(supply_key(symbol), supplies[symbol])

    # -- issuing ----------------------------------------------------------------------------

    @method(MintArgs, roles=(ISSUER_ROLE,))
    def mint(self, ctx: Context, args: MintArgs) -> None:
        asset = self._issued_asset(ctx, args.asset)
        check_amount(ctx, args.amount_minor, allow_zero=True)
        check_address(ctx, args.recipient, "recipient")
        if ctx.account(args.recipient) is None:
            ctx.reject("unknown_recipient", "the recipient is not a registered account")
        holding = self._holding(ctx, asset, args.recipient)
        _check_not_frozen(ctx, holding, args.recipient)
        check_not_denied(ctx, args.recipient)
        supply = ctx.state.load_int(supply_key(asset.symbol)) + args.amount_minor
        check_bound(ctx, supply, "supply")
        credited = self._credit(ctx, holding, args.amount_minor)
        ctx.state.save(balance_key(asset.symbol, args.recipient), credited)
        ctx.state.save_int(supply_key(asset.symbol), supply)
        _emit_transfer(ctx, asset.symbol, MINT_BURN_ADDRESS, args.recipient, args.amount_minor)

    @method(BurnArgs, roles=(ISSUER_ROLE,))
    def burn(self, ctx: Context, args: BurnArgs) -> None:
        asset = self._issued_asset(ctx, args.asset)
        check_amount(ctx, args.amount_minor, allow_zero=True)
        holding = self._holding(ctx, asset, ctx.sender)
        _check_not_frozen(ctx, holding, ctx.sender)
        check_not_denied(ctx, ctx.sender)
        _check_funds(ctx, holding, args.amount_minor)
        supply = ctx.state.load_int(supply_key(asset.symbol)) - args.amount_minor
        require(supply >= 0, "token supply below a balance", asset=asset.symbol)
        debited = msgspec.structs.replace(
            holding, balance_minor=holding.balance_minor - args.amount_minor
        )
        ctx.state.save(balance_key(asset.symbol, ctx.sender), debited)
        ctx.state.save_int(supply_key(asset.symbol), supply)
        _emit_transfer(ctx, asset.symbol, ctx.sender, MINT_BURN_ADDRESS, args.amount_minor)

    # -- moving -----------------------------------------------------------------------------

    @method(TransferArgs)
    def transfer(self, ctx: Context, args: TransferArgs) -> None:
        asset = self._asset(ctx, args.asset)
        check_amount(ctx, args.amount_minor, allow_zero=True)
        check_address(ctx, args.recipient, "recipient")
        # A contract pays out of its own balance by calling ``transfer`` (role ``contract``:
        # no account holds it), which the runtime does with the contract's address as sender.
        payer_is_contract = CONTRACT_ROLE in ctx.roles
        self._move(ctx, asset, ctx.sender, args.recipient, args.amount_minor, payer_is_contract)

    @method(ApproveArgs)
    def approve(self, ctx: Context, args: ApproveArgs) -> None:
        asset = self._asset(ctx, args.asset)
        check_amount(ctx, args.amount_minor, allow_zero=True)
        check_address(ctx, args.spender, "spender")
        if ctx.account(args.spender) is None and not _is_contract(ctx, args.spender):
            ctx.reject("unknown_spender", "the spender is not a registered account")
        key = allowance_key(asset.symbol, ctx.sender, args.spender)
        ctx.state.save_int(key, args.amount_minor)
        _emit_approval(ctx, asset.symbol, ctx.sender, args.spender, args.amount_minor)

    @method(TransferFromArgs)
    def transfer_from(self, ctx: Context, args: TransferFromArgs) -> None:
        asset = self._asset(ctx, args.asset)
        check_amount(ctx, args.amount_minor, allow_zero=True)
        check_address(ctx, args.owner, "owner")
        check_address(ctx, args.recipient, "recipient")
        owner_is_contract = _check_owner_active(ctx, args.owner)
        check_not_denied(ctx, ctx.sender)
        key = allowance_key(asset.symbol, args.owner, ctx.sender)
        allowance = ctx.state.load_int(key)
        if args.amount_minor > allowance:
            ctx.reject(
                "insufficient_allowance",
                f"the allowance is {allowance}",
                allowance_minor=allowance,
                amount_minor=args.amount_minor,
            )
        self._move(ctx, asset, args.owner, args.recipient, args.amount_minor, owner_is_contract)
        ctx.state.save_int(key, allowance - args.amount_minor)
        _emit_approval(ctx, asset.symbol, args.owner, ctx.sender, allowance - args.amount_minor)

    # -- regulating -------------------------------------------------------------------------

    @method(HoldingArgs, roles=(REGULATOR_ROLE,))
    def freeze(self, ctx: Context, args: HoldingArgs) -> None:
        self._set_frozen(ctx, args, frozen=True)

    @method(HoldingArgs, roles=(REGULATOR_ROLE,))
    def unfreeze(self, ctx: Context, args: HoldingArgs) -> None:
        self._set_frozen(ctx, args, frozen=False)

    @method(SetTierArgs, roles=(REGULATOR_ROLE,))
    def set_tier(self, ctx: Context, args: SetTierArgs) -> None:
        asset = self._asset(ctx, args.asset)
        holding = self._registered_holding(ctx, asset, args.address)
        tier = self._tier(ctx, args.tier) if IDENTIFIER.fullmatch(args.tier) else None
        if tier is None:
            ctx.reject("unknown_tier", f"no tier {args.tier[:MAX_NAME_LENGTH]!r}")
        if holding.balance_minor > tier.max_balance_minor:
            ctx.reject(
                "tier_balance_limit",
                f"the balance is over tier {tier.name}'s maximum {tier.max_balance_minor}",
                balance_minor=holding.balance_minor,
                max_balance_minor=tier.max_balance_minor,
            )
        changed = msgspec.structs.replace(holding, tier=tier.name)
        ctx.state.save(balance_key(asset.symbol, args.address), changed)
        ctx.emit("TierChanged", asset=asset.symbol, address=args.address, tier=tier.name)

    # -- queries ----------------------------------------------------------------------------

    @query(HoldingArgs)
    def balance(self, ctx: Context, args: HoldingArgs) -> Balance:
        asset = self._asset(ctx, args.asset)
        check_address(ctx, args.address)
        holding = self._holding(ctx, asset, args.address)
        return Balance(
            asset.symbol, args.address, holding.balance_minor, holding.frozen, holding.tier
        )

    @query(AssetArgs)
    def supply(self, ctx: Context, args: AssetArgs) -> Supply:
        asset = self._asset(ctx, args.asset)
        return Supply(asset.symbol, ctx.state.load_int(supply_key(asset.symbol)))

    @query(AllowanceArgs)
    def allowance(self, ctx: Context, args: AllowanceArgs) -> Allowance:
        asset = self._asset(ctx, args.asset)
        check_address(ctx, args.owner, "owner")
        check_address(ctx, args.spender, "spender")
        amount = ctx.state.load_int(allowance_key(asset.symbol, args.owner, args.spender))
        return Allowance(asset.symbol, args.owner, args.spender, amount)

    @query(AssetArgs)
    def asset(self, ctx: Context, args: AssetArgs) -> Asset:
        return self._asset(ctx, args.asset)

    # -- the one path every payment takes ---------------------------------------------------

    def _move(
        self,
        ctx: Context,
        asset: Asset,
        payer: bytes,
        payee: bytes,
        amount_minor: int,
        payer_is_contract: bool,
    ) -> None:
        """Pay ``amount_minor`` from ``payer`` to ``payee`` (a payment of ``payer``: its tier's
        payment and daily limits apply unless ``payer_is_contract``; ``payee``'s tier bounds
        its new balance unless it is a contract)."""
        payer_holding = self._holding(ctx, asset, payer)
        _check_not_frozen(ctx, payer_holding, payer)
        payee_is_account = ctx.account(payee) is not None
        payee_is_contract = not payee_is_account and _is_contract(ctx, payee)
        if not payee_is_account and not payee_is_contract:
            ctx.reject("unknown_recipient", "the recipient is not a registered account")
        same = payer == payee
        payee_holding = payer_holding if same else self._holding(ctx, asset, payee)
        _check_not_frozen(ctx, payee_holding, payee)
        check_not_denied(ctx, payer, payee)
        _check_funds(ctx, payer_holding, amount_minor)
        day = ctx.time_ms // DAY_MS
        spent = payer_holding.spent_minor if payer_holding.spent_day == day else 0
        # A contract's holding has no tier: the contract's own rules limit what it pays.
        payer_tier = None if payer_is_contract else self._holding_tier(ctx, payer_holding)
        if payer_tier is not None:
            _check_payment_limits(ctx, payer_tier, amount_minor, spent)
        debited = msgspec.structs.replace(
            payer_holding,
            balance_minor=payer_holding.balance_minor - amount_minor,
            spent_day=day,
            spent_minor=spent + amount_minor,
        )
        if same:
            # Paying oneself spends from the day's limit but leaves the balance as it was.
            restored = msgspec.structs.replace(debited, balance_minor=payer_holding.balance_minor)
            ctx.state.save(balance_key(asset.symbol, payer), restored)
        else:
            if payee_is_contract:
                credited = msgspec.structs.replace(
                    payee_holding, balance_minor=payee_holding.balance_minor + amount_minor
                )
                check_bound(ctx, credited.balance_minor, "balance")
            else:
                payee_tier = (
                    payer_tier
                    if payer_tier is not None and payee_holding.tier == payer_tier.name
                    else self._holding_tier(ctx, payee_holding)
                )
                credited = self._credit(ctx, payee_holding, amount_minor, payee_tier)
            ctx.state.save(balance_key(asset.symbol, payer), debited)
            ctx.state.save(balance_key(asset.symbol, payee), credited)
        _emit_transfer(ctx, asset.symbol, payer, payee, amount_minor)

    # -- helpers ----------------------------------------------------------------------------

    def _asset(self, ctx: Context, symbol: str) -> Asset:
        asset = ctx.state.load(asset_key(symbol), Asset) if SYMBOL.fullmatch(symbol) else None
        if asset is None:
            ctx.reject("unknown_asset", f"no asset {symbol[:MAX_NAME_LENGTH]!r}")
        return asset

    def _issued_asset(self, ctx: Context, symbol: str) -> Asset:
        asset = self._asset(ctx, symbol)
        if ctx.organization != asset.issuer:
            ctx.reject(
                "not_issuer",
                f"only organization {asset.issuer} issues {asset.symbol}",
                issuer=asset.issuer,
            )
        return asset

    def _holding(self, ctx: Context, asset: Asset, address: bytes) -> Holding:
        holding = ctx.state.load(balance_key(asset.symbol, address), Holding)
        return holding or Holding(0, asset.default_tier, False, 0, 0)

    def _registered_holding(self, ctx: Context, asset: Asset, address: bytes) -> Holding:
        check_address(ctx, address)
        if ctx.account(address) is None:
            ctx.reject("unknown_account", "not a registered account", address=address.hex())
        return self._holding(ctx, asset, address)

    def _tier(self, ctx: Context, name: str) -> Tier | None:
        return ctx.state.load(tier_key(name), Tier)

    def _holding_tier(self, ctx: Context, holding: Holding) -> Tier:
        tier = self._tier(ctx, holding.tier)
        if tier is None:  # tiers are never deleted, so this is corrupt state
            raise NodeFault(f"tier {holding.tier!r} of a holding is missing from state")
        return tier

    def _credit(
        self, ctx: Context, holding: Holding, amount_minor: int, tier: Tier | None = None
    ) -> Holding:
        """``holding`` plus ``amount_minor``, within the bound and the holder's tier."""
        balance = holding.balance_minor + amount_minor
        check_bound(ctx, balance, "balance")
        if tier is None:
            tier = self._holding_tier(ctx, holding)
        if balance > tier.max_balance_minor:
            ctx.reject(
                "tier_balance_limit",
                f"tier {tier.name} allows a balance up to {tier.max_balance_minor}",
                max_balance_minor=tier.max_balance_minor,
            )
        return msgspec.structs.replace(holding, balance_minor=balance)

    def _set_frozen(self, ctx: Context, args: HoldingArgs, *, frozen: bool) -> None:
        asset = self._asset(ctx, args.asset)
        holding = self._registered_holding(ctx, asset, args.address)
        if holding.frozen == frozen:
            code = "already_frozen" if frozen else "not_frozen"
            ctx.reject(code, f"the holding is {'already' if frozen else 'not'} frozen")
        changed = msgspec.structs.replace(holding, frozen=frozen)
        ctx.state.save(balance_key(asset.symbol, args.address), changed)
        ctx.emit(
            "Frozen" if frozen else "Unfrozen",
            asset=asset.symbol,
            address=args.address,
        )


def _is_contract(ctx: Context, address: bytes) -> bool:
    """A built-in contract, or a member's committed through the lifecycle (one state read more;
    asked only of an address that is not a registered account)."""
    return ctx.is_contract(address) or ctx.is_member_contract(address)


def _check_payment_limits(ctx: Context, tier: Tier, amount_minor: int, spent_minor: int) -> None:
    """A payment of ``amount_minor`` by a holder of ``tier`` who spent ``spent_minor`` today."""
    if amount_minor > tier.max_payment_minor:
        ctx.reject(
            "tier_payment_limit",
            f"tier {tier.name} allows payments up to {tier.max_payment_minor}",
            max_payment_minor=tier.max_payment_minor,
        )
    if spent_minor + amount_minor > tier.daily_limit_minor:
        ctx.reject(
            "tier_daily_limit",
            f"tier {tier.name} allows {tier.daily_limit_minor} a day; {spent_minor} spent today",
            daily_limit_minor=tier.daily_limit_minor,
            spent_minor=spent_minor,
        )


def _check_owner_active(ctx: Context, owner: bytes) -> bool:
    """A suspended account (or one of a suspended organization) cannot send, and no allowance it
    gave before its suspension lets anyone else move its money either. ``True`` when ``owner``
    is no account: only accounts and contracts give allowances, so it is a contract."""
    account = ctx.account(owner)
    if account is None:
        return True  # a contract's holding: its own rules govern who moves it
    organization = ctx.organization_record(account.organization)
    if not account.active or organization is None or not organization.active:
        ctx.reject(
            "owner_suspended",
            "the owner's account or organization is suspended",
            owner=owner.hex(),
        )
    return False


def _check_funds(ctx: Context, holding: Holding, amount_minor: int) -> None:
    if amount_minor > holding.balance_minor:
        ctx.reject(
            "insufficient_funds",
            f"the balance is {holding.balance_minor}",
            balance_minor=holding.balance_minor,
            amount_minor=amount_minor,
        )


def _check_not_frozen(ctx: Context, holding: Holding, address: bytes) -> None:
    if holding.frozen:
        ctx.reject("account_frozen", f"account {address.hex()} is frozen", address=address.hex())


def _emit_transfer(
    ctx: Context, asset: str, sender: bytes, recipient: bytes, amount_minor: int
) -> None:
    ctx.emit("Transfer", asset=asset, sender=sender, recipient=recipient, amount_minor=amount_minor)


def _emit_approval(
    ctx: Context, asset: str, owner: bytes, spender: bytes, amount_minor: int
) -> None:
    ctx.emit("Approval", asset=asset, owner=owner, spender=spender, amount_minor=amount_minor)


def _genesis_tiers(config: TokenConfig) -> dict[str, Tier]:
    if len(config.tiers) > MAX_TIERS:
        raise InvalidInput(f"token: at most {MAX_TIERS} tiers")
    tiers: dict[str, Tier] = {}
    for name in sorted(config.tiers):
        limits = config.tiers[name]
        if not IDENTIFIER.fullmatch(name):
            raise InvalidInput(f"token tier {name!r}: not an identifier")
        for field, value in (
            ("max_balance_minor", limits.max_balance_minor),
            ("max_payment_minor", limits.max_payment_minor),
            ("daily_limit_minor", limits.daily_limit_minor),
        ):
            if not 0 <= value <= MAX_AMOUNT_MINOR:
                raise InvalidInput(f"token tier {name}: {field} must be 0..{MAX_AMOUNT_MINOR}")
        tiers[name] = Tier(
            name, limits.max_balance_minor, limits.max_payment_minor, limits.daily_limit_minor
        )
    return tiers


def _genesis_assets(
    genesis: Genesis, config: TokenConfig, tiers: Mapping[str, Tier]
) -> dict[str, Asset]:
    if len(config.assets) > MAX_ASSETS:
        raise InvalidInput(f"token: at most {MAX_ASSETS} assets")
    organizations = {organization.id for organization in genesis.organizations}
    assets: dict[str, Asset] = {}
    for entry in config.assets:
        where = f"token asset {entry.symbol!r}"
        if not SYMBOL.fullmatch(entry.symbol):
            raise InvalidInput(f"{where}: a symbol is 2..12 capital letters and digits")
        if entry.symbol in assets:
            raise InvalidInput(f"{where}: appears twice")
        check_name(entry.name, f"{where}: name")
        if not 0 <= entry.scale <= MAX_SCALE:
            raise InvalidInput(f"{where}: scale must be 0..{MAX_SCALE}")
        if entry.issuer not in organizations:
            raise InvalidInput(f"{where}: unknown issuer organization {entry.issuer!r}")
        if entry.default_tier not in tiers:
            raise InvalidInput(f"{where}: unknown default tier {entry.default_tier!r}")
        assets[entry.symbol] = Asset(
            entry.symbol, entry.name, entry.scale, entry.issuer, entry.default_tier
        )
    return assets


__all__ = [
    "ALLOWANCE_PREFIX",
    "ASSET_PREFIX",
    "BALANCE_PREFIX",
    "DAY_MS",
    "ISSUER_ROLE",
    "MINT_BURN_ADDRESS",
    "SUPPLY_PREFIX",
    "TIER_PREFIX",
    "TOKEN",
    "Allowance",
    "AllowanceArgs",
    "ApproveArgs",
    "Asset",
    "AssetArgs",
    "AssetConfig",
    "Balance",
    "BurnArgs",
    "Holding",
    "HoldingArgs",
    "HoldingConfig",
    "MintArgs",
    "SetTierArgs",
    "Supply",
    "Tier",
    "TierConfig",
    "Token",
    "TokenConfig",
    "TransferArgs",
    "TransferFromArgs",
    "allowance_key",
    "asset_key",
    "balance_key",
    "load_token_config",
    "supply_key",
    "tier_key",
]
