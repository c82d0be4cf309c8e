"""Reading a zip of photos without trusting it.

Nothing is ever extracted to disk, so a hostile name cannot write anywhere; still, entries
with absolute or ``..`` names are refused (and reported) because they only come from
crafted archives. Limits (number of files, total uncompressed bytes, bytes per file) are
checked against the central directory first and then against the bytes actually read,
since the directory's sizes can lie.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings

NESTED_ARCHIVE_EXTENSIONS = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
# Local file header magic of a zip: a nested zip with an innocent name is still refused.
ZIP_MAGIC = b"PK\x03\x04"
# Entries that are not photos and are expected in archives made by common tools.
_IGNORED_PREFIXES = ("__MACOSX/",)
_IGNORED_BASENAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


class ArchiveRejected(ValueError):
    """The archive as a whole cannot be imported; the message is safe to show."""


@dataclass(frozen=True)
class ArchiveEntry:
    """One file of the archive: ``data`` when it may be imported, else ``error``."""

    name: str
    data: bytes | None = None
    error: str | None = None


def max_files() -> int:
    return int(settings.PSBIR_MAX_ZIP_FILES)


def max_uncompressed_bytes() -> int:
    return int(settings.PSBIR_MAX_ZIP_UNCOMPRESSED_BYTES)


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` must not be used as a path, or None when it is a plain relative name."""
    if "\x00" in name:
        return "its name contains a NUL byte"
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "its name is an absolute path"
    if ".." in normalized.split("/"):
        return "its name points outside the archive (..)"
    return None


def _is_ignored(name: str) -> bool:
    base = posixpath.basename(name)
    return name.startswith(_IGNORED_PREFIXES) or base in _IGNORED_BASENAMES or base.startswith("._")


def iter_zip(fileobj: BinaryIO, *, max_entry_bytes: int | None = None) -> Iterator[ArchiveEntry]:
    """Yield the archive's files one at a time (memory holds one file, not the archive).

    Raises :class:`ArchiveRejected` before yielding anything when the archive is unreadable,
    has too many files, or declares more uncompressed bytes than allowed. A single bad entry
    (unsafe name, nested archive, encrypted, too big) is yielded with an ``error`` instead.
    """
    entry_limit = max_entry_bytes or settings.PSBIR_MAX_UPLOAD_BYTES
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise ArchiveRejected("This file is not a zip archive we can read.") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir() and not _is_ignored(i.filename)]
        if len(infos) > max_files():
            raise ArchiveRejected(
                f"The archive holds {len(infos):,} files; the limit is {max_files():,}."
            )
        total_limit = max_uncompressed_bytes()
        declared = sum(i.file_size for i in infos)
        if declared > total_limit:
            raise ArchiveRejected(
                f"The archive would unpack to {declared:,} bytes; the limit is {total_limit:,}."
            )
        read_so_far = 0
        for info in infos:
            name = info.filename
            reason = unsafe_name_reason(name)
            if reason is None and name.lower().endswith(NESTED_ARCHIVE_EXTENSIONS):
                reason = "archives inside the archive are not accepted"
            if reason is None and info.flag_bits & 0x1:
                reason = "it is encrypted"
            if reason is None and info.file_size > entry_limit:
                reason = f"it is larger than the {entry_limit:,} byte limit"
            if reason is not None:
                yield ArchiveEntry(name=name, error=f"Skipped: {reason}.")
                continue
            try:
                with archive.open(info) as stream:
                    # Read one byte past the limit: a lying header shows up as an overrun.
                    data = stream.read(min(entry_limit, total_limit - read_so_far) + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
                yield ArchiveEntry(name=name, error=f"Skipped: it cannot be unpacked ({exc}).")
                continue
            read_so_far += len(data)
            if read_so_far > total_limit:
                yield ArchiveEntry(
                    name=name, error="Skipped: the archive unpacks to too much data."
                )
                return
            if len(data) > entry_limit:
                yield ArchiveEntry(
                    name=name, error=f"Skipped: it is larger than the {entry_limit:,} byte limit."
                )
                continue
            if data.startswith(ZIP_MAGIC):
                yield ArchiveEntry(
                    name=name, error="Skipped: archives inside the archive are not accepted."
                )
                continue
            yield ArchiveEntry(name=name, data=data)
