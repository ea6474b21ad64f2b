"""The approval service's configuration file (TOML; docs/keys.md "Second factor").

Paths are relative to the file's directory. Every limit has a bound checked on load, so a
configuration cannot switch the protection off (no lock-out, an unbounded window)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from jinqiao.core.errors import InvalidInput

__all__ = ["ApprovalConfig", "Limits", "load_config"]


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_failures: int = 5
    """Consecutive failed second factors after which an approver is locked out."""
    lockout_s: int = 900
    max_attempts_per_minute: int = 10
    """Approval attempts (right or wrong) per approver in any 60 s."""
    approval_ttl_s: int = 300
    """How long a requested approval waits for its second factor."""
    totp_window_steps: int = 1
    """TOTP steps (30 s each) accepted either side of now, for clock drift."""
    max_pending: int = 1000


LIMIT_BOUNDS: dict[str, tuple[int, int]] = {
    "max_failures": (1, 20),
    "lockout_s": (60, 86_400),
    "max_attempts_per_minute": (1, 60),
    "approval_ttl_s": (30, 3600),
    "totp_window_steps": (0, 2),
    "max_pending": (1, 100_000),
}


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: str
    state_dir: str
    chain_id: str
    host: str = "127.0.0.1"
    port: int = 8600
    tls_certificate: str | None = None
    tls_key: str | None = None
    limits: Limits = Limits()


@dataclass(frozen=True)
class ApprovalConfig:
    key: Path
    state_dir: Path
    chain_id: str
    host: str
    port: int
    tls_certificate: Path | None
    tls_key: Path | None
    limits: Limits


def load_config(path: Path) -> ApprovalConfig:
    """The configuration in ``path``; ``InvalidInput`` naming the problem."""
    try:
        document = msgspec.convert(tomllib.loads(path.read_text()), _File)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    for name, (low, high) in LIMIT_BOUNDS.items():
        value = getattr(document.limits, name)
        if not low <= value <= high:
            raise InvalidInput(f"{path}: limits.{name}={value} is out of range {low}..{high}")
    if (document.tls_certificate is None) != (document.tls_key is None):
        raise InvalidInput(f"{path}: give both tls_certificate and tls_key, or neither")
    base = path.parent

    def resolve(name: str | None) -> Path | None:
        return None if name is None else base / name

    return ApprovalConfig(
        key=base / document.key,
        state_dir=base / document.state_dir,
        chain_id=document.chain_id,
        host=document.host,
        port=document.port,
        tls_certificate=resolve(document.tls_certificate),
        tls_key=resolve(document.tls_key),
        limits=document.limits,
    )
