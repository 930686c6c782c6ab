"""Writing an output file atomically (issue 13: "outputs are written to a temporary file and
renamed, so nothing is left half-written").

The bytes go to a fresh file in the target's directory (same file system, so the rename is
atomic), are flushed to disk, and the file is renamed over the target with ``os.replace``: a
reader sees the old file or the whole new one, never a prefix, and an interrupted write leaves
at most a hidden ``.NAME.*.tmp`` behind, never a truncated NAME.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes, private: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically. ``private``: readable by the owner only (0600; a
    zero-knowledge model file holds the opening of its commitments), else 0666 less the umask,
    as a plain ``open`` would create it."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
