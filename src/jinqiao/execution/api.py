"""The contract API: everything a contract (``jinqiao.apps``) may import from the execution layer,
and nothing else.

A contract is declared with ``Contract``, ``@method`` and ``@query`` and sees a ``Context``: its
caller, the block, its own state, other contracts' state read-only, an event emitter, calls to
other contracts (``call``, ``call_encoded``, ``check_call``) and the network's crypto suite and
contract addresses (``suite``, ``contract_address``, ``is_contract``) — never the runtime
itself. The shared checks (``check_amount``, ``check_bound``) give every contract the same
rejection codes. The registry and governance contracts also write the system state the runtime
reads (organizations, accounts, parameters, the validator set); its layout is re-exported from
``jinqiao.execution.identity``.

The runtime (``jinqiao.execution.runtime``), the overlay and step meter
(``jinqiao.execution.state``) and the modules behind this one are not for contracts: the
import-linter contract "Apps see only the contract API" in ``pyproject.toml`` fails the build if
an app imports them directly.

The header and proof checks of the standalone verifier (``verify_certificate``,
``verify_state_proof``, ``VerificationError``) are re-exported here for contracts that check
another chain's headers and state on chain (the cross-chain light client,
``jinqiao.apps.crosschain``): one implementation of the rules of docs/proofs.md serves the
off-chain verifier and the on-chain client (docs/adr/0028-cross-chain.md).
"""

from jinqiao.execution.contract import (
    CONTRACT_ROLE,
    Context,
    Contract,
    GenesisContext,
    check_amount,
    check_bound,
    contract_address,
    method,
    query,
)
from jinqiao.execution.identity import (
    GOVERNANCE,
    PARAMETERS_KEY,
    PENDING_VALIDATORS_KEY,
    REGISTRY,
    VALIDATOR_CHANGE_DELAY_BLOCKS,
    VALIDATORS_KEY,
    Account,
    AmountRule,
    Organization,
    PendingValidators,
    PolicyKey,
    SigningPolicy,
    account_key,
    implicit_policy,
    organization_key,
    policy_key,
)
from jinqiao.verify import VerificationError, verify_certificate, verify_state_proof

__all__ = [
    "CONTRACT_ROLE",
    "GOVERNANCE",
    "PARAMETERS_KEY",
    "PENDING_VALIDATORS_KEY",
    "REGISTRY",
    "VALIDATORS_KEY",
    "VALIDATOR_CHANGE_DELAY_BLOCKS",
    "Account",
    "AmountRule",
    "Context",
    "Contract",
    "GenesisContext",
    "Organization",
    "PendingValidators",
    "PolicyKey",
    "SigningPolicy",
    "VerificationError",
    "account_key",
    "check_amount",
    "check_bound",
    "contract_address",
    "implicit_policy",
    "method",
    "organization_key",
    "policy_key",
    "query",
    "verify_certificate",
    "verify_state_proof",
]
