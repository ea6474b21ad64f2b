"""Execution: the deterministic runtime that applies transactions to state.

Contracts (``jinqiao.apps``) are Python classes whose methods are declared with ``@method`` or
``@query`` and typed argument structs. The runtime decodes arguments strictly, checks the sender's
account, organization and roles, runs the method against a per-transaction overlay of the state and
either keeps all of its writes (success) or none (``Rejection``). Nothing here does I/O or reads a
clock: the block time, height and committed state arrive as inputs.
"""
