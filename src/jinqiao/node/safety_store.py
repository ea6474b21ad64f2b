"""The safety module's record on disk (``consensus.safety.SafetyStorage``).

``save`` returns only when the new record is durable: it writes a temporary file beside the
record, fsyncs it, renames it over the record (atomic on POSIX) and fsyncs the directory so the
rename itself survives a power cut. A crash at any instant leaves either the old record or the
new one, never a torn mix — and the safety module has not released the signature until ``save``
returned. A leftover temporary file from a crash is ignored and overwritten by the next save.
"""

from __future__ import annotations

import os
from pathlib import Path

from jinqiao.consensus.safety import MAX_SAFETY_RECORD_BYTES
from jinqiao.core.errors import NodeFault

__all__ = ["FileSafetyStorage"]


class FileSafetyStorage:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._temporary = path.with_name(path.name + ".tmp")

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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(descriptor, view)
                    view = view[written:]
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(self._temporary, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise NodeFault(f"cannot save the safety record {self.path}: {exc.strerror}") from None
