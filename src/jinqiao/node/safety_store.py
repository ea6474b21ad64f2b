"""The safety module's record on disk (``consensus.safety.SafetyStorage``).

``save`` returns only when the new record is durable (``jinqiao.fileio.save_atomically``: a
temporary file, fsync, rename over the record, fsync of the directory). A crash at any instant
leaves either the old record or the new one, never a torn mix — and the safety module has not
released the signature until ``save`` returned. A leftover temporary file from a crash is ignored
and overwritten by the next save.
"""

from __future__ import annotations

from pathlib import Path

from jinqiao.consensus.safety import MAX_SAFETY_RECORD_BYTES
from jinqiao.core.errors import NodeFault
from jinqiao.fileio import save_atomically

__all__ = ["FileSafetyStorage"]


class FileSafetyStorage:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> bytes | None:
        """The saved record, or ``None`` if none was ever saved."""
        try:
            size = self.path.stat().st_size
            if size > MAX_SAFETY_RECORD_BYTES:
                raise NodeFault(
                    f"safety record {self.path} is {size} bytes, over {MAX_SAFETY_RECORD_BYTES}"
                )
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NodeFault(f"cannot read the safety record {self.path}: {exc.strerror}") from None

    def save(self, data: bytes) -> None:
        save_atomically(self.path, data, error=NodeFault)
