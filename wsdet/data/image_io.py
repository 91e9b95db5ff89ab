"""Read images as 8-bit arrays: PNG/JPEG/TIFF through PIL (as Detectron2), DICOM through pydicom.

Every reader of wsdet (training and test loaders, converters, tools) goes through :func:`load_pil` or
:func:`read_image`, so that every problem with a file, too many pixels included, is an
:class:`ImageReadError` naming it.
"""
import contextlib
import math
import threading
import warnings
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
from detectron2.data.detection_utils import convert_PIL_to_numpy
from detectron2.utils.file_io import PathManager
from PIL import Image, ImageOps
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    as_pixel_options,
    get_decoder,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageReadError",
    "ImageReadOptions",
    "is_dicom",
    "load_pil",
    "read_dicom",
    "read_image",
]

DICOM_EXTENSIONS = (".dcm", ".dicom")
# Default of cfg.WSDET.MAX_IMAGE_PIXELS: 16384 x 16384, above any radiograph, mammogram or ultrasound frame.
DEFAULT_MAX_PIXELS = 16384 * 16384
# PIL modes holding more than 8 bits per pixel (16-bit PNG/TIFF, 32-bit integer or float TIFF).
_HIGH_DEPTH_PIL_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


class ImageReadError(OSError):
    """An image file is missing, corrupt, truncated or cannot be decoded.

    A subclass of ``OSError``, like the errors PIL raises for unreadable files. The message names
    the file and the problem; both are also kept as ``path`` and ``reason``.
    """

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):
        return type(self), (self.path, self.reason)


def _window_problem(window: Sequence[float]) -> Optional[str]:
    """Why ``window`` is not a usable (center, width) DICOM window; None if it is (or is empty)."""
    if not window:
        return None
    if len(window) != 2 or not all(math.isfinite(v) for v in window) or window[1] <= 0:
        return f"a window is (center, width) with width > 0, got {tuple(window)}"
    return None


@dataclass(frozen=True)
class ImageReadOptions:
    """
    How images are read (config: ``WSDET.DICOM.FRAME``, ``WSDET.DICOM.WINDOW``,
    ``WSDET.MAX_IMAGE_PIXELS``); checked when built, so that a bad value fails before any image is read.

    Attributes:
        dicom_frame: frame read from multi-frame DICOM files (0 = the first).
        dicom_window: (center, width) window of DICOM files; None = each file's own VOI.
        max_pixels: images with more pixels are refused (0 = no limit); guards against images (or
            decompression bombs) that would exhaust memory.
    """

    dicom_frame: int = 0
    dicom_window: Optional[Tuple[float, float]] = None
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self):
        window = tuple(float(v) for v in self.dicom_window) if self.dicom_window else None
        object.__setattr__(self, "dicom_window", window)
        problems = []
        if self.dicom_frame < 0:
            problems.append(f"WSDET.DICOM.FRAME is {self.dicom_frame}; it must be >= 0 (0 = the first frame)")
        window_problem = _window_problem(window or ())
        if window_problem:
            problems.append(f"WSDET.DICOM.WINDOW: {window_problem} (empty = each file's own window)")
        if self.max_pixels < 0:
            problems.append(f"WSDET.MAX_IMAGE_PIXELS is {self.max_pixels}; it must be >= 0 (0 = no limit)")
        if problems:
            raise ValueError("Invalid image reading options: " + "; ".join(problems))

    @classmethod
    def from_config(cls, cfg) -> "ImageReadOptions":
        return cls(
            dicom_frame=cfg.WSDET.DICOM.FRAME,
            dicom_window=tuple(cfg.WSDET.DICOM.WINDOW) or None,
            max_pixels=cfg.WSDET.MAX_IMAGE_PIXELS,
        )


def is_dicom(path: str) -> bool:
    """Whether ``path`` has a DICOM extension (.dcm, .dicom) or starts with the DICOM preamble."""
    if path.lower().endswith(DICOM_EXTENSIONS):
        return True
    try:
        with PathManager.open(path, "rb") as f:
            header = f.read(132)
    except OSError:
        return False
    return header[128:132] == b"DICM"


def read_image(
    file_name: str,
    format: str = "BGR",
    *,
    dicom_frame: int = 0,
    dicom_window: Optional[Sequence[float]] = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """
    Like :func:`detectron2.data.detection_utils.read_image` (EXIF orientation applied), and DICOM.

    Greyscale images of more than 8 bits (16-bit PNG/TIFF, float TIFF) are min-max scaled to 0..255
    over their finite values; NaN and -inf pixels become 0, +inf pixels 255.

    Args:
        file_name: an image file PIL can read, or a DICOM file (see :func:`is_dicom`).
        format: "BGR", "RGB", "L" or another format of Detectron2's ``read_image``.
        dicom_frame, dicom_window, max_pixels: as :class:`ImageReadOptions` (checked: ValueError).

    Returns:
        HxWxC array in ``format``: uint8 HxWx3 for "BGR"/"RGB" (grey images on 3 equal channels),
        uint8 HxWx1 for "L".

    Raises:
        ImageReadError: the file is missing, corrupt, truncated, too large, has no finite pixel value,
            or cannot be decoded.
    """
    options = ImageReadOptions(dicom_frame, dicom_window, max_pixels)
    if is_dicom(file_name):
        pixels = read_dicom(file_name, options.dicom_frame, options.dicom_window, options.max_pixels)
        image = Image.fromarray(pixels)
    else:
        image = _read_pil(file_name, options.max_pixels)
    return convert_PIL_to_numpy(image, format)


def read_dicom(
    path: str,
    frame: int = 0,
    window: Optional[Sequence[float]] = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """
    Read one frame of a DICOM file as an 8-bit display image.

    Greyscale: Modality LUT (rescale slope / intercept), then ``window`` if given, else the file's
    VOI LUT or window center / width, else 0..255 from min-max (8-bit data keeps its values);
    MONOCHROME1 is inverted so that high values are bright, as in MONOCHROME2.
    Colour: RGB and YBR (converted by pydicom) are scaled from their bit depth to 8 bits, PALETTE
    COLOR goes through its palette; ``window`` is ignored. Compressed data is decoded by pydicom's
    plugins.

    Args:
        path: the DICOM file.
        frame: index of the frame to read in a multi-frame file.
        window: (center, width) in modality units (e.g. Hounsfield units): values from
            center - width / 2 to center + width / 2 map linearly onto 0..255. None or empty: the
            file's own VOI.
        max_pixels: frames with more pixels are refused (0 = no limit).

    Returns:
        uint8 array, HxW for greyscale, HxWx3 RGB for colour.

    Raises:
        ImageReadError: the file is missing, not DICOM, truncated, has no pixel data, has no such
            frame, its frame is too large, its pixel data cannot be decoded, or its modality transform
            (e.g. a Rescale Slope of 0) makes every pixel one value.
    """
    window_problem = _window_problem(window or ())
    if window_problem:
        raise ValueError(window_problem)
    ds = _read_dataset(path)
    _check_pixels(path, (ds.get("Columns") or 0, ds.get("Rows") or 0), max_pixels)
    pixels, photometric, bits_stored = _decode_frame(ds, path, frame)
    try:
        if photometric == "PALETTE COLOR":
            rgb = apply_color_lut(pixels, ds)[..., :3]
            return _to_uint8(rgb / np.iinfo(rgb.dtype).max)
        if photometric == "RGB":
            return _to_uint8(pixels / (2**bits_stored - 1))
        if photometric in ("MONOCHROME1", "MONOCHROME2"):
            grey = _grey_to_uint8(pixels, ds, window)
            return 255 - grey if photometric == "MONOCHROME1" else grey
    except (ValueError, NotImplementedError) as e:  # invalid or unsupported LUTs and windows
        raise ImageReadError(path, f"cannot convert pixel values to 8 bits ({e})") from e
    raise ImageReadError(path, f"photometric interpretation {photometric} is not supported")


def _check_pixels(path: str, size: Tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if max_pixels and width * height > max_pixels:
        raise ImageReadError(
            path,
            f"{width}x{height} = {width * height} pixels, more than the limit of {max_pixels} "
            "(config WSDET.MAX_IMAGE_PIXELS; 0 = no limit)",
        )


_PIL_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_pil_pixel_limit() -> Iterator[None]:
    """PIL's own decompression-bomb limit lifted while a file is identified (wsdet applies its own).

    PIL reads its limit from a module global: other threads opening images meanwhile are not limited.
    """
    with _PIL_LIMIT_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def load_pil(file_name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """
    The decoded image of a file PIL reads, with its EXIF orientation applied.

    Raises:
        ImageReadError: the file is missing, corrupt, truncated, or has more than ``max_pixels``
            pixels (0 = no limit), checked before it is decoded.
    """
    try:
        with PathManager.open(file_name, "rb") as f:
            with _without_pil_pixel_limit():
                image = Image.open(f)
            _check_pixels(file_name, image.size, max_pixels)
            return ImageOps.exif_transpose(image)  # returns a loaded image
    except FileNotFoundError:
        raise ImageReadError(file_name, "file not found") from None
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        # PIL's errors for unknown, corrupt, truncated files and frames beyond its limit
        raise ImageReadError(file_name, f"corrupt or unsupported image ({e})") from e


def _read_pil(file_name: str, max_pixels: int) -> Image.Image:
    image = load_pil(file_name, max_pixels)
    if image.mode in _HIGH_DEPTH_PIL_MODES:
        try:
            image = Image.fromarray(_to_uint8(_min_max(np.asarray(image))))
        except ValueError as e:
            raise ImageReadError(file_name, f"cannot convert pixel values to 8 bits ({e})") from e
    return image


def _read_dataset(path: str) -> Dataset:
    try:
        with warnings.catch_warnings():
            # pydicom only warns, and drops the pixel data, when a truncated file ends inside it.
            warnings.filterwarnings("error", message="End of file reached before delimiter")
            with PathManager.open(path, "rb") as f:
                ds = dcmread(f)
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except UserWarning as e:
        raise ImageReadError(path, f"file is truncated ({e})") from None
    except Exception as e:  # pydicom raises many exception types on malformed files
        raise ImageReadError(path, f"not a valid DICOM file ({type(e).__name__}: {e})") from e
    if "PixelData" not in ds:
        raise ImageReadError(path, "no pixel data")
    return ds


def _decode_frame(ds: Dataset, path: str, frame: int) -> Tuple[np.ndarray, str, int]:
    """Frame ``frame`` of ``ds`` decoded by pydicom, its photometric interpretation, bits stored."""
    try:
        num_frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        raise ImageReadError(path, f"invalid Number of Frames {ds.NumberOfFrames!r}") from None
    if not 0 <= frame < num_frames:
        plural = "s" if num_frames > 1 else ""
        raise ImageReadError(
            path, f"frame {frame} requested but file has {num_frames} frame{plural}"
        )
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise ImageReadError(path, "no Transfer Syntax UID in the file meta information")
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise ImageReadError(path, f"transfer syntax {syntax.name} is not supported") from None
    missing = "; ".join(decoder.missing_dependencies)
    if not decoder.is_available:
        raise ImageReadError(
            path, f"transfer syntax {syntax.name} cannot be decoded: install one of: {missing}"
        )
    try:
        pixels, meta = decoder.as_array(ds, index=frame, **as_pixel_options(ds))
    except Exception as e:  # decoding plugins raise many exception types
        hint = f"; other decoders: {missing}" if missing else ""
        raise ImageReadError(
            path, f"transfer syntax {syntax.name} cannot be decoded ({e}{hint})"
        ) from e
    return pixels, str(meta["photometric_interpretation"]), int(meta["bits_stored"])


def _grey_to_uint8(
    pixels: np.ndarray, ds: Dataset, window: Optional[Sequence[float]]
) -> np.ndarray:
    values = apply_modality_lut(pixels, ds)
    if np.ptp(values) == 0 and np.ptp(pixels) > 0:
        raise ValueError(
            f"the modality transform (Rescale Slope {ds.get('RescaleSlope')}, Intercept "
            f"{ds.get('RescaleIntercept')}, or Modality LUT) maps every pixel to {values.flat[0]}"
        )
    if window:
        # ``ds`` is private to read_dicom: the explicit window replaces the file's VOI.
        ds.WindowCenter, ds.WindowWidth = float(window[0]), float(window[1])
        ds.VOILUTFunction = "LINEAR_EXACT"
        if "VOILUTSequence" in ds:
            del ds.VOILUTSequence
    scaled = _apply_voi(values, ds)
    if scaled is not None:
        return _to_uint8(scaled)
    if values.dtype == np.uint8 and ds.get("BitsStored") == 8:
        return values
    return _to_uint8(_min_max(values))


def _apply_voi(values: np.ndarray, ds: Dataset) -> Optional[np.ndarray]:
    """
    The VOI LUT (preferred, as pydicom does) or window of ``ds`` applied to ``values``, rescaled so
    that the lowest output of the transform is 0 and the highest 1; None if ``ds`` has neither.
    """
    luts = ds.get("VOILUTSequence")
    if luts and "LUTDescriptor" in luts[0] and "LUTData" in luts[0]:
        num_entries, first = luts[0].LUTDescriptor[0] or 2**16, luts[0].LUTDescriptor[1]
        ends = np.array([first, first + num_entries - 1])
        values = np.clip(np.rint(values), ends[0], ends[1]).astype(np.int64)
        transform = apply_voi
    elif ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        ends = np.array([-np.inf, np.inf])
        transform = apply_windowing
    else:
        return None
    low, high = transform(ends, ds).astype(np.float64)
    if low == high:
        return None
    return (transform(values, ds) - low) / (high - low)


def _min_max(values: np.ndarray) -> np.ndarray:
    """
    ``values`` linearly mapped so that their finite minimum is 0 and maximum 1 (all 0 if constant);
    NaN and -inf become 0, +inf 1. Raises ValueError when no value is finite.
    """
    values = values.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("no pixel value is finite (all NaN or infinite)")
    low, high = finite.min(), finite.max()
    unit = (values - low) / (high - low) if high > low else np.where(values > low, 1.0, 0.0)
    return np.nan_to_num(unit, nan=0.0, posinf=1.0, neginf=0.0)


def _to_uint8(unit: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clipped) to uint8 0..255."""
    return np.rint(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)
