"""Atomic file writes: write to a temporary file beside the target, then rename into place.

``os.replace`` is atomic on POSIX within one filesystem, so a crash (or Ctrl-C) leaves
either the old file or the complete new one under the final name, never half a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from qcdgen.errors import InputError


def os_error_reason(exc: OSError) -> str:
    """Why creating an entry in an *existing* directory failed, in words that are true there:
    ENOENT from an existing directory means the file system takes no new entries (e.g. /proc)."""
    reasons = {errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
               errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
               errno.EDQUOT: "disk quota exceeded",
               errno.ENOENT: "this file system does not allow creating entries"}
    return reasons.get(exc.errno, (exc.strerror or str(exc)).lower())


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """Refuse an output path we could not write, before any long computation starts."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{what} path {str(path)!r} is a directory; give a file name")
    if not parent.is_dir():
        raise InputError(f"{what} directory {str(parent)!r} does not exist; create it first")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{what} file {str(path)!r} exists and is not writable")
    _probe_file(parent, f"{what} directory {str(parent)!r}")
    return path


def _probe_file(directory: Path, what: str) -> None:
    """Create and remove a file in ``directory``: permission bits alone say nothing for root, /proc
    or read-only mounts."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".qcdgen-probe.", dir=directory)
    except OSError as exc:
        raise InputError(f"{what} is not writable: cannot create a file there, {os_error_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)


def check_writable_dir(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Refuse an output directory that cannot be used, before any computation: an existing file, a
    path below a file, or a directory that cannot be created or written into. Creates nothing."""
    out = Path(path)
    if out.is_dir():
        _probe_file(out, f"{what} {str(out)!r}")
        return out
    if out.exists() or out.is_symlink():
        kind = "a broken symbolic link" if not out.exists() else "an existing file"
        raise InputError(f"{what} {str(out)!r} is {kind}, not a directory; give a directory name")
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{what} {str(out)!r} cannot be created: {str(ancestor)!r} is a file, not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".qcdgen-probe.", dir=ancestor))
    except OSError as exc:
        raise InputError(f"{what} {str(out)!r}: cannot create the directory in {str(ancestor)!r}, "
                         f"{os_error_reason(exc)}") from None
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it to ``path`` on success.

    On any exception the temporary file is removed and the target is left untouched.
    """
    path = check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write {str(path)!r} ({exc.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    _apply_umask(tmp_path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _apply_umask(path: Path) -> None:
    """mkstemp creates files 0600; give the final file the usual 0666 & ~umask permissions."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
