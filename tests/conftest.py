"""Fixtures shared by every kind of test."""

from __future__ import annotations

import pytest

from tests.helpers.softhsm import SoftToken, make_token


@pytest.fixture(scope="session")
def soft_token(tmp_path_factory: pytest.TempPathFactory) -> SoftToken:
    """The test process's one SoftHSM2 token (tests/helpers/softhsm.py)."""
    return make_token(tmp_path_factory.mktemp("softhsm"))
