"""The limits of a member contract: its source, and each call's steps, memory and depth.

Every number is part of consensus: two nodes with different limits would disagree on which call
runs out, so they are constants here, never configuration."""

MAX_SOURCE_BYTES = 64 * 1024
"""A contract's source file. Enough for a loan or an escrow several times over; a bound on what
the parser and the reviewers are given."""

MAX_MANIFEST_BYTES = 16 * 1024

MAX_METHODS = 64
MAX_ARGUMENTS = 16

STEP_LIMIT = 100_000
"""Steps per call: one per function entry and one per loop iteration (``for``, ``while``,
comprehensions, and every item a builtin such as ``sum`` or ``sorted`` consumes). About 50 ms of
Python on the reference machine (see docs/contracts.md)."""

MEMORY_LIMIT_BYTES = 16 * 1024 * 1024
"""The sum, over one call, of the sizes of the values its sized operations create (``+``, ``*``,
``**``, ``<<``, f-strings, slices, ``join``, ``replace``, ``list``/``tuple``/``bytes`` ...), each
counted before the value is computed. Freed values are not given back: the count is simple and
the same on every node."""

MAX_VALUE_BYTES = 1024 * 1024
"""The largest single value a sized operation may create."""

MAX_INT_BITS = 4096
"""The largest integer a sized operation may create. Arithmetic on bigger integers costs time
that steps do not count; money needs at most 64 bits."""

MAX_DEPTH = 32
"""Nested calls of the contract's own functions."""
