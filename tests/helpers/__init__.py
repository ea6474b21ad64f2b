"""Shared test helpers. ``chain`` is a small in-memory chain: a genesis with a few organizations,
accounts and validators, real signed transactions, blocks executed by the real ``Runtime``."""
