"""A validator's consensus key replaced in a simulation run (scenario ``key_rotation``;
docs/keys.md "Rotation"): validator ``v1`` holds a next key from the start, the admin of its
organization ``org-1`` proposes ``replace_validator_key`` and the other organizations approve to
the quorum — every step a transaction the simulated client sends through the nodes' own stack.
From the height the set names the next key, ``v1``'s driver signs with it (``SigningKeys``), on a
lossy network where ``v1`` crashes and restarts on the way; the run's checks hold meanwhile (every
certificate verified against the set in force, so an old-key precommit after the switch fails the
run) and ``SimCounters.next_key_certificates`` counts the blocks the next key helped certify.
"""

from __future__ import annotations

from jinqiao.apps.governance import ProposalArgs, ProposeArgs, ReplaceValidatorKey
from jinqiao.execution.api import GOVERNANCE
from jinqiao.sim.members import STEP_MS, MemberStep

ROTATED_VALIDATOR = 1
"""The validator whose key is replaced, ``v1`` of ``org-1``; payer 1 is that organization's
admin."""
ROTATION_NONCES = 3_000_000
"""Rotation transactions take nonces from here on (member contracts take 2,000,000 on)."""


def rotation_script(
    organizations: int, address: bytes, next_public_key: bytes, start_ms: int
) -> tuple[MemberStep, ...]:
    """Propose by ``org-1``'s admin, then approvals by the first organizations until the
    default quorum of two thirds (``ceil(2n/3)`` organizations) is reached."""
    action = ReplaceValidatorKey(address, next_public_key)
    voters = [v for v in range(-(-2 * organizations // 3)) if v != ROTATED_VALIDATOR]
    steps = [
        (ROTATED_VALIDATOR, "propose", ProposeArgs(action)),
        *((voter, "approve", ProposalArgs(1)) for voter in voters),
    ]
    return tuple(
        MemberStep(
            start_ms + index * STEP_MS, payer, GOVERNANCE, method, args, ROTATION_NONCES + index
        )
        for index, (payer, method, args) in enumerate(steps)
    )


__all__ = ["ROTATED_VALIDATOR", "ROTATION_NONCES", "rotation_script"]
