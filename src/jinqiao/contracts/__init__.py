"""Contracts that members write: the static review, the metered sandbox and the host.

``rules`` decides whether a source is in the deterministic subset (every finding a line and a
rule code); ``sandbox`` compiles a reviewed source with metering and runs it with restricted
builtins; ``meter`` is the budget of one call (steps, memory, depth); ``host`` makes a package
(manifest and source) a contract of the runtime, seeing only its own namespace. The package is
pure: it reads no files (the CLI does) and sits in the apps' layer, above execution. See
docs/contracts.md and docs/adr/0026-member-contracts-sandbox.md.
"""

from jinqiao.contracts.host import Manifest, member_contract, parse_manifest
from jinqiao.contracts.meter import BudgetExhausted, Meter
from jinqiao.contracts.rules import RULES, Finding, review_source
from jinqiao.contracts.sandbox import ContractRefused, compile_contract

__all__ = [
    "RULES",
    "BudgetExhausted",
    "ContractRefused",
    "Finding",
    "Manifest",
    "Meter",
    "compile_contract",
    "member_contract",
    "parse_manifest",
    "review_source",
]
