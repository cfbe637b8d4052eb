"""Local and s3:// paths through one interface (pyarrow.fs), input listing and atomic JSON writes.

S3 credentials come from the standard AWS chain; S3-compatible stores are reached through
`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, which pyarrow honours.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import posixpath
import uuid

import pyarrow.fs as pafs

# Extensions the input adapters can read (see records.read_records).
INPUT_EXTENSIONS = (".jsonl", ".json", ".parquet", ".jsonl.gz", ".json.gz")


def is_remote(path: str) -> bool:
    return "://" in path


def filesystem_for(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem that holds `path` and the path as that filesystem names it."""
    if is_remote(path):
        fs, inner = pafs.FileSystem.from_uri(path)
        return fs, inner
    return pafs.LocalFileSystem(), os.path.abspath(path)


def for_workers(path: str) -> str:
    """An existing local path made absolute, since Ray workers do not run in the driver's directory;
    remote paths and other names (a hub model id) as they are."""
    return os.path.abspath(path) if not is_remote(path) and os.path.exists(path) else path


def upload_folder(local: str, dest: str) -> None:
    """Copy a local folder's files into a local or s3:// folder."""
    fs, inner = filesystem_for(dest)
    pafs.copy_files(local, inner, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


def _has_input_extension(path: str) -> bool:
    return path.lower().endswith(INPUT_EXTENSIONS)


def list_input_files(path: str) -> tuple[pafs.FileSystem, list[str]]:
    """Expand a file, a folder (recursively) or a glob into a sorted list of input files.

    Sorted so that row order, derived ids and "first occurrence" of duplicates do not depend on
    the order the filesystem lists files in.
    """
    fs, inner = filesystem_for(path)
    if any(ch in inner for ch in "*?["):
        if is_remote(path):
            base = inner[: min(inner.find(ch) for ch in "*?[" if ch in inner)].rsplit("/", 1)[0]
            selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
            files = [i.path for i in fs.get_file_info(selector) if i.is_file and fnmatch.fnmatch(i.path, inner)]
        else:
            files = [p for p in glob.glob(inner, recursive=True) if os.path.isfile(p)]
    else:
        info = fs.get_file_info(inner)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"input.path: {path} does not exist")
        if info.type == pafs.FileType.Directory and not is_remote(path):
            files = _walk_local(inner)
        elif info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(inner, recursive=True)
            files = [i.path for i in fs.get_file_info(selector) if i.is_file and _has_input_extension(i.path)]
        else:
            files = [inner]
    files = _once_each(sorted(files)) if not is_remote(path) else sorted(files)
    if not files:
        raise FileNotFoundError(
            f"input.path: no input files found at {path} (looked for {', '.join(INPUT_EXTENSIONS)})"
        )
    return fs, files


def _walk_local(folder: str) -> list[str]:
    """Input files under a local folder, following symlinked folders but never a loop (a link to
    a folder above it would otherwise list the same files again and again)."""
    files, seen = [], set()
    for parent, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(parent)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders.sort()  # visit in name order, so which path of a folder reached twice wins is fixed
        files.extend(os.path.join(parent, n) for n in names
                     if _has_input_extension(n) and os.path.isfile(os.path.join(parent, n)))
    return files


def _once_each(files: list[str]) -> list[str]:
    """The first path of every file that several paths (symlinks) reach, so no file is read twice."""
    kept, seen = [], set()
    for path in files:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            kept.append(path)
    return kept


def parent(path: str) -> str:
    """The folder holding `path` (local or s3://)."""
    return posixpath.dirname(path.rstrip("/"))


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def remove_tree(path: str) -> None:
    """Delete a folder if it exists, so a re-run does not mix its files with an earlier run's."""
    fs, inner = filesystem_for(path)
    if fs.get_file_info(inner).type != pafs.FileType.NotFound:
        fs.delete_dir(inner)


def write_json(path: str, data: dict) -> None:
    """Write JSON so readers never see a half-written file.

    Locally: write a temporary file beside it and rename (atomic on POSIX). On S3 a single PUT
    is already all-or-nothing.
    """
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    fs, inner = filesystem_for(path)
    parent = inner.rsplit("/", 1)[0]
    fs.create_dir(parent, recursive=True)
    target = inner if is_remote(path) else f"{inner}.{uuid.uuid4().hex}.tmp"
    try:
        with fs.open_output_stream(target) as out:
            out.write(text.encode())
        if target != inner:
            os.replace(target, inner)
    except BaseException:
        if target != inner and os.path.exists(target):
            os.remove(target)  # a full disk must not leave a half-written temporary file
        raise


def write_bytes(path: str, data: bytes) -> None:
    """Write a file (a plot, a report) to a local or s3:// path, creating its folder."""
    fs, inner = filesystem_for(path)
    fs.create_dir(inner.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(inner) as stream:
        stream.write(data)


def exists(path: str) -> bool:
    fs, inner = filesystem_for(path)
    return fs.get_file_info(inner).type != pafs.FileType.NotFound


def read_json(path: str) -> dict:
    fs, inner = filesystem_for(path)
    with fs.open_input_stream(inner) as stream:
        return json.loads(stream.read())


def parquet_row_count(path: str) -> int:
    """Rows in all Parquet files under a folder, from the footers only; 0 when nothing was written."""
    import pyarrow.dataset as pads

    fs, inner = filesystem_for(path)
    if fs.get_file_info(inner).type == pafs.FileType.NotFound:
        return 0
    return pads.dataset(inner, filesystem=fs, format="parquet").count_rows()


def common_root(files: list[str]) -> str:
    """The folder all input files share; derived ids are paths relative to it."""
    return os.path.commonpath([os.path.dirname(f) for f in files])
