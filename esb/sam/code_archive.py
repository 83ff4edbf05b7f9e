"""A .zip CodeUri/ContentUri (SAM accepts archives) unpacked once into a directory named by its content hash."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from esb.errors import TemplateError
from esb_runtime.digest import sha256_file

# Lambda's limit for a function's unzipped code; it also bounds what a hostile archive can make us write.
MAX_UNZIPPED_BYTES = 262_144_000


def _check(zf: zipfile.ZipFile, archive: Path) -> None:
    total = 0
    for info in zf.infolist():
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts:
            raise TemplateError(f"archive entry '{info.filename}' points outside the archive", where=str(archive))
        total += info.file_size
    if total > MAX_UNZIPPED_BYTES:
        raise TemplateError(f"archive unpacks to {total} bytes, over Lambda's {MAX_UNZIPPED_BYTES}", where=str(archive))


def unpacked(archive: Path, cache_root: Path) -> Path:
    """The directory holding `archive`'s files: <cache_root>/<sha256>/, extracted on first use.

    The same bytes always give the same directory, so builds stay incremental; a changed archive is a new one.
    """
    target = cache_root / sha256_file(archive)
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            _check(zf, archive)
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache_root))
            try:
                zf.extractall(staging)
                try:
                    staging.rename(target)  # atomic: a reader sees the whole tree or none
                except OSError:
                    if not target.is_dir():
                        raise
                    # another build unpacked the same bytes first
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (zipfile.BadZipFile, OSError) as exc:
        raise TemplateError(f"cannot unpack archive: {exc}", where=str(archive)) from exc
    return target
