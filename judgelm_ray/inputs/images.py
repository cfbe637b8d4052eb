"""A row's images, loaded and checked in the judge job's CPU stage, so the GPU actor gets only good ones.

Source format: the canonical row's ``images``, a list of {"path": str | None, "bytes": bytes | None}
(the Hugging Face datasets Image convention, made by `fields.images`):
- ``bytes``: the encoded image file itself (PNG, JPEG, GIF, BMP, WebP or TIFF: FORMATS); used as given,
  and ``path`` is then only its name;
- ``path``: a local path or an s3:// URI, read through pyarrow.fs as the input files are
  (`storage.filesystem_for`); a relative path is taken relative to ``base``, the folder of the input
  file that names it (local or s3://), never to the working directory, which Ray workers do not share.

Each image is decoded in full with PIL (a truncated or corrupt file fails here, not in the engine) and
size-checked. The encoded bytes are returned as they are: they travel well in Arrow, and the engine
decodes them once more into the pixels its model sees (`engines.base.decode_image`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import pyarrow.fs as pafs

from judgelm_ray import storage
from judgelm_ray.inputs.fields import RowError


@dataclass(frozen=True)
class ImageLimits:
    # 20 MiB: a photo from a phone is 2-8 MiB and a judge's image processor shrinks every image to a few
    # hundred pixels a side anyway; a bigger file is far more likely a mistake (a video, a raw scan) and
    # would be carried through every stage of the pipeline in each of the row's requests.
    max_bytes: int = 20 * 2**20
    # 50 megapixels: above any camera photo, yet decoding one stays ~150 MB of RGB. The width x height is
    # checked from the header, before decoding, so a small file that claims huge dimensions (a
    # "decompression bomb") is refused without allocating its pixels.
    max_pixels: int = 50_000_000


# The raster formats a judge's images come in. PIL would also open formats that run other programs to
# decode (EPS runs Ghostscript) or that no vision model means (PDF, ICNS): row data must not choose those.
FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "WEBP", "TIFF")


class ImageError(RowError):
    """An image of a row is missing, unreadable, not an image, or too large: the row is quarantined."""

    def __init__(self, index: int, where: str, what: str) -> None:
        super().__init__("images", f"{where}: {what}", index)


def load_images(images: list[dict], base: str | None = None, limits: ImageLimits = ImageLimits()) -> list[bytes]:
    """The encoded bytes of each image, in order, each checked to decode and to be within `limits`.

    Raises ImageError naming images[i] and the path (or "bytes" for an inline image).
    """
    return [_load(i, image, base, limits) for i, image in enumerate(images)]


def _load(index: int, image: dict, base: str | None, limits: ImageLimits) -> bytes:
    path, data = image.get("path"), image.get("bytes")
    if data is not None:
        where = f"bytes{f' ({path})' if path else ''}"
        if len(data) > limits.max_bytes:
            raise ImageError(index, where, f"{_size(len(data))} is over the limit of {_size(limits.max_bytes)}")
    elif path:
        where = path
        data = _read(index, _resolve(index, path, base), path, limits)
    else:
        raise ImageError(index, "(none)", "neither a path nor bytes")
    _check(index, where, data, limits)
    return data


def _resolve(index: int, path: str, base: str | None) -> str:
    if storage.is_remote(path) or os.path.isabs(path):
        return path
    if base is None:
        raise ImageError(index, path, "a relative path, but no folder to resolve it against")
    return storage.join(base, path) if storage.is_remote(base) else os.path.join(base, path)


def _read(index: int, full: str, path: str, limits: ImageLimits) -> bytes:
    where = path if full == path else f"{path} (at {full})"
    try:
        fs, inner = storage.filesystem_for(full)
        info = fs.get_file_info(inner)
        if info.type == pafs.FileType.NotFound:
            raise ImageError(index, where, "no such file")
        if info.type != pafs.FileType.File:
            raise ImageError(index, where, "not a file")
        # The size from the listing: an oversized file is refused without reading it.
        if info.size is not None and info.size > limits.max_bytes:
            raise ImageError(index, where, f"{_size(info.size)} is over the limit of {_size(limits.max_bytes)}")
        with fs.open_input_stream(inner) as stream:
            return stream.read()
    except ImageError:
        raise
    except (OSError, ValueError) as error:  # permissions, an unreachable bucket, a malformed URI
        raise ImageError(index, where, f"cannot be read: {error}") from error


def _check(index: int, where: str, data: bytes, limits: ImageLimits) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageError(index, where, f"{width}x{height} pixels is over the limit of "
                                               f"{limits.max_pixels / 1e6:g} megapixels")
            image.verify()  # the file's structure and checksums
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            image.load()  # and every pixel: verify() misses a file cut short
    except ImageError:
        raise
    except Exception as error:  # PIL raises many kinds (OSError, SyntaxError, ValueError, DecompressionBombError)
        raise ImageError(index, where, f"not a readable {'/'.join(FORMATS)} image "
                                       f"({type(error).__name__}: {error})") from error


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size:,} bytes"
