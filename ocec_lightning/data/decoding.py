"""Image and mask bytes to arrays: the one place every source decodes pixels.

Images become HxWx3 uint8 RGB whatever their encoding (palette, grayscale, alpha, 16-bit,
JPEG, and float formats whose values are checked); masks become HxW uint8 class ids. Every
failure is a one-line DataError naming the row (`ref`), what the bytes look like and what
is expected, so that a truncated PNG reads differently from bytes that are no image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ocec_lightning.errors import DataError

# Leading bytes of the formats OpenCV decodes, to say what a file that fails to decode
# claims to be (a truncated PNG vs bytes that are no image at all).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"PF\n", "PFM"),
    (b"Pf\n", "PFM"),
    (b"#?RADIANCE", "HDR"),
    (b"#?RGBE", "HDR"),
)
# Formats whose pixels are floats. OpenCV's IMREAD_COLOR turns them into uint8 unchecked
# (NaN becomes 0; PFM values are not rescaled, HDR ones are), so they are decoded as floats
# and checked here. A float TIFF is refused by IMREAD_COLOR and retried the same way.
_FLOAT_FORMATS = ("PFM", "HDR")


def image_format(data: bytes) -> str | None:
    """The image format `data` starts like ("PNG", "JPEG", ...), or None."""
    head = bytes(data[:16])
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def _undecodable(data: bytes, ref: str, what: str, expected: str) -> DataError:
    """The one-line error for `what` ("image"/"mask") bytes that do not decode."""
    if not len(data):
        return DataError(f"{ref}: {what} data is empty (0 bytes); expected an encoded {expected}")
    kind = image_format(data)
    if kind is None:
        detail = f"image (it starts with {bytes(data[:8])!r}, no known image signature)"
    else:
        detail = f"{kind} (truncated, corrupt or an unsupported variant)"
    return DataError(
        f"{ref}: {what} data ({len(data)} bytes) is not a decodable {detail}; "
        f"expected a complete {expected}"
    )


def decode_image_bytes(data: bytes, ref: str) -> np.ndarray:
    """Decode PNG/JPEG/BMP (or any OpenCV format) bytes into an HxWx3 uint8 RGB array.

    Palette, grayscale, alpha and 16-bit images are converted to 8-bit RGB. Float images
    (PFM, HDR, float TIFF) must hold finite values in [0, 1]; anything else is a DataError.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    kind = image_format(data) if buffer.size else None
    image = None
    # cv2 releases the GIL while decoding, so the cache's thread pool decodes in parallel.
    if buffer.size and kind not in _FLOAT_FORMATS:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None and kind in (*_FLOAT_FORMATS, "TIFF"):
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if image is not None and image.dtype.kind == "f":
            image = _float_to_uint8(image, ref)
        elif image is not None:  # an integer TIFF IMREAD_COLOR cannot read: undecodable
            image = None
    if image is None:
        raise _undecodable(data, ref, "image", "PNG/JPEG/BMP image")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)


def _float_to_uint8(image: np.ndarray, ref: str) -> np.ndarray:
    """A float image (values in [0, 1]) as uint8; NaN/inf or other ranges are DataErrors."""
    finite = np.isfinite(image)
    if not finite.all():
        y, x = (int(v) for v in np.argwhere(~finite)[0][:2])
        raise DataError(
            f"{ref}: float image has {int((~finite).sum())} NaN/inf value(s), the first at "
            f"pixel ({y}, {x}) (row, column); expected finite values in [0, 1]"
        )
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{ref}: float image values span {low:g} to {high:g}; expected finite values in "
            "[0, 1] (or an 8/16-bit PNG/JPEG)"
        )
    return np.rint(image * 255.0).astype(np.uint8)


def _read_file(
    path: Path, ref: str, kind: str, decode: Callable[[bytes, str], np.ndarray]
) -> np.ndarray:
    """Read one `kind` ("image"/"mask") file and `decode` it; errors name `ref` and the file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{ref}: {kind} file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"{ref}: cannot read {kind} file {path}: {exc.strerror}") from None
    # Sources whose ref already is the path (folder) should not print it twice.
    where = ref if str(path) in ref else f"{ref} ({path})"
    return decode(data, where)


def read_image_file(path: Path, ref: str) -> np.ndarray:
    """Read and decode one image file; the error names the row (`ref`) and the file."""
    return _read_file(path, ref, "image", decode_image_bytes)


def decode_mask_bytes(data: bytes, ref: str) -> np.ndarray:
    """Decode an index-mask PNG (one class id per pixel) into an HxW uint8 array.

    Grayscale and palette PNGs give their indices; an RGB image whose three channels are
    equal is accepted as grayscale. A colour-coded mask (a colour per class) is rejected:
    the colour-to-class mapping is not defined anywhere, so guessing it would be silent.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if _is_palette_png(data):
        return _decode_palette_png(data, ref)
    mask = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if mask is None:
        raise _undecodable(data, ref, "mask", "PNG/BMP index mask")
    if mask.dtype.kind == "f":
        nonfinite = "" if np.isfinite(mask).all() else ", NaN/inf among them"
        raise DataError(
            f"{ref}: mask holds {mask.dtype} values{nonfinite}; expected integer class ids "
            "0-255 (an 8-bit single-channel PNG)"
        )
    if mask.ndim == 3:
        channels = mask[..., :3]
        if not (
            np.array_equal(channels[..., 0], channels[..., 1])
            and np.array_equal(channels[..., 0], channels[..., 2])
        ):
            raise DataError(
                f"{ref}: mask is a colour image ({mask.shape[2]} channels with different "
                "values); expected a single-channel PNG holding one class id per pixel"
            )
        mask = channels[..., 0]
    if mask.dtype != np.uint8:
        top = int(mask.max()) if mask.size else 0
        if mask.dtype.kind not in "ui" or mask.min() < 0 or top > 255:
            raise DataError(
                f"{ref}: mask holds {mask.dtype} values up to {top}; expected class ids 0-255 "
                "(an 8-bit single-channel PNG)"
            )
        mask = mask.astype(np.uint8)
    return np.ascontiguousarray(mask)


def _is_palette_png(data: bytes) -> bool:
    # PNG signature, then the IHDR chunk: byte 25 is the colour type (3 = palette).
    return len(data) > 25 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[25] == 3


def _decode_palette_png(data: bytes, ref: str) -> np.ndarray:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.array(image.convert("P") if image.mode != "P" else image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError):
        raise _undecodable(data, ref, "mask", "PNG/BMP index mask") from None


def read_mask_file(path: Path, ref: str) -> np.ndarray:
    """Read and decode one mask file; the error names the row (`ref`) and the file."""
    return _read_file(path, ref, "mask", decode_mask_bytes)
