"""The approval service's configuration file (TOML; docs/keys.md "Second factor").

Paths are relative to the file's directory. Every limit has a bound checked on load, so a
configuration cannot switch the protection off (no lock-out, an unbounded window)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from jinqiao.core.errors import InvalidInput

__all__ = ["ApprovalConfig", "Limits", "WebAuthnSettings", "load_config"]


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
    challenge_ttl_s: int = 120
    """How long a WebAuthn approval challenge may be answered (ADR 0052)."""
    enrolment_ttl_s: int = 900
    """How long a WebAuthn enrolment link may be used."""


class WebAuthnSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where approvers open the service's pages (ADR 0052): ``origin`` exactly as the browser
    reports it (scheme, host, port) and ``rp_id`` its host name (a domain, never an IP
    address: browsers refuse those)."""

    rp_id: str
    origin: str
    rp_name: str = "jinqiao approvals"


LIMIT_BOUNDS: dict[str, tuple[int, int]] = {
    "max_failures": (1, 20),
    "lockout_s": (60, 86_400),
    "max_attempts_per_minute": (1, 60),
    "approval_ttl_s": (30, 3600),
    "totp_window_steps": (0, 2),
    "max_pending": (1, 100_000),
    "challenge_ttl_s": (30, 600),
    "enrolment_ttl_s": (60, 86_400),
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
    webauthn: WebAuthnSettings | None = None


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
    webauthn: WebAuthnSettings | None = None


def _check_webauthn(path: Path, settings: WebAuthnSettings) -> None:
    scheme, _, rest = settings.origin.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0]
    if scheme not in ("https", "http") or "/" in rest or host != settings.rp_id:
        raise InvalidInput(
            f"{path}: webauthn.origin must be scheme://rp_id[:port] with no path "
            f"(got {settings.origin!r} for rp_id {settings.rp_id!r})"
        )
    if scheme == "http" and host != "localhost":
        raise InvalidInput(f"{path}: webauthn.origin may be plain http on localhost only")
    if not settings.rp_id or settings.rp_id.replace(".", "").isdigit() or ":" in settings.rp_id:
        raise InvalidInput(f"{path}: webauthn.rp_id must be a domain name, not an IP address")


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
    if document.webauthn is not None:
        _check_webauthn(path, document.webauthn)
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
        webauthn=document.webauthn,
    )
