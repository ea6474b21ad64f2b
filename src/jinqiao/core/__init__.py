"""Core: the types everything else shares, their one canonical encoding, crypto suites, errors
and limits. Pure: no I/O, no clock, no randomness except key generation in ``crypto``."""
