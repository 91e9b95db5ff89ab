"""The image files of a conversion, checked as the loader will read them: inside the dataset folder and
decodable in full (so a truncated or too large file is reported now, not when training reads it)."""
import os
from typing import Optional, Tuple

from ..image_io import ImageReadError, load_pil
from .report import ConversionReport


def outside_folder(root: str, path: str) -> Optional[str]:
    """Where ``path`` really is, if that is outside ``root`` (through a symbolic link); else None."""
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    return real if os.path.commonpath([real_root, real]) != real_root else None


def check_image(root: str, file_name: str, report: ConversionReport) -> Optional[Tuple[int, int]]:
    """
    (width, height) of ``root/file_name`` as the loader reads it (EXIF orientation applied); None, and
    an error recorded, if it lies outside ``root`` or cannot be read in full.
    """
    path = os.path.join(root, file_name)
    target = outside_folder(root, path)
    if target is not None:
        report.error(
            f"{path}: links to {target}, outside the dataset folder {root}; the loader refuses files "
            "outside its image root (copy the file in)"
        )
        return None
    try:
        return load_pil(path).size
    except ImageReadError as e:
        report.error(f"{path}: cannot read the image ({e.reason})")
        return None
