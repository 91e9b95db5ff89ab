"""Checkpoints written atomically and loaded without running code from the file (unless opted in)."""
import codecs
import collections
import os
import pickle
import tempfile
from typing import Any, Dict

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer

try:
    from numpy._core import multiarray as _multiarray  # numpy >= 2
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray

__all__ = ["UnsafeCheckpointError", "WSDetCheckpointer"]

OPT_IN = "WSDET.ALLOW_UNSAFE_CHECKPOINTS"

# What a Detectron2 / Caffe2 model-zoo .pkl (a dict of numpy arrays) may reference, and nothing more.
_SAFE_PKL_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): codecs.encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{
        (module, name): getattr(_multiarray, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    },
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects that safe loading refuses (loading them can run code)."""

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"{path} holds pickled Python objects beyond tensors, arrays and plain containers "
            f"({reason}). Loading it can run arbitrary code from the file, so wsdet refused it. If you "
            f"trust where the file comes from, opt in with the config option '{OPT_IN} True' "
            f"(e.g. append '{OPT_IN} True' to the tools/train_net.py command)."
        )


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that only builds the objects of :data:`_SAFE_PKL_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_PKL_GLOBALS:
            raise pickle.UnpicklingError(f"it references {module}.{name}")
        return _SAFE_PKL_GLOBALS[(module, name)]


def _weights_only_reason(message: str) -> str:
    """The gist of torch's ``weights_only`` error (e.g. "Unsupported global: GLOBAL datetime.date ...")."""
    for line in message.splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].split(" Please", 1)[0].strip()
    return message.splitlines()[0] if message else "weights_only=True refused it"


def _fsync_dir(path: str) -> None:
    """Persist a rename in ``path`` (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: str, write) -> None:
    """``write(f)`` into a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    folder, basename = os.path.split(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{basename}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


class WSDetCheckpointer(DetectionCheckpointer):
    """
    :class:`DetectionCheckpointer` that

    * writes each checkpoint atomically (temporary file in the same folder, fsync, ``os.replace``) and
      only then points ``last_checkpoint`` at it (also atomically), so a crash mid-write leaves the
      last good checkpoint in place;
    * loads ``.pth`` files with ``torch.load(weights_only=True)`` and model-zoo ``.pkl`` files with an
      unpickler limited to numpy arrays; anything else raises :class:`UnsafeCheckpointError` unless
      ``allow_unsafe`` (config ``WSDET.ALLOW_UNSAFE_CHECKPOINTS``) is set.
    """

    def __init__(self, model, save_dir: str = "", *, allow_unsafe: bool = False, **kwargs):
        """
        Args:
            model, save_dir, kwargs: as :class:`DetectionCheckpointer`.
            allow_unsafe: load any pickle (legacy checkpoints from a trusted source).
        """
        super().__init__(model, save_dir, **kwargs)
        self.allow_unsafe = allow_unsafe

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {save_file}")
        _atomic_write(save_file, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        _atomic_write(
            os.path.join(self.save_dir, "last_checkpoint"),
            lambda f: f.write(last_filename_basename.encode()),
        )

    def _load_file(self, filename: str) -> Dict[str, Any]:
        if self.allow_unsafe:
            self.logger.warning(f"Loading {filename} with full unpickling ({OPT_IN} is set)")
        elif filename.endswith(".pkl"):
            # Unpickle once with only the allowed globals: if that succeeds, Detectron2's plain
            # unpickling of the same bytes can reach nothing else.
            with open(filename, "rb") as f:
                try:
                    _SafeUnpickler(f, encoding="latin1").load()
                except pickle.UnpicklingError as e:
                    raise UnsafeCheckpointError(filename, str(e)) from e
        return super()._load_file(filename)

    def _torch_load(self, f: str) -> Dict[str, Any]:
        try:
            return torch.load(f, map_location="cpu", weights_only=not self.allow_unsafe)
        except pickle.UnpicklingError as e:
            raise UnsafeCheckpointError(f, _weights_only_reason(str(e))) from e
