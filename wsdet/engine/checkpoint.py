"""Checkpoints written atomically and loaded without running code from the file (unless opted in)."""
import codecs
import collections
import logging
import os
import pickle
import re
from typing import IO, Any, Callable, Dict, List, Optional

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode

from .weight_formats import TORCHVISION_RESNET_SETTINGS, torchvision_resnet_to_detectron2

try:
    # numpy 2 moved the module to a private name; pickled arrays name it, so the safe loader must allow it
    from numpy._core import multiarray as _multiarray  # numpy >= 2
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray

__all__ = [
    "CorruptCheckpointError",
    "UnsafeCheckpointError",
    "UntrainedModelError",
    "WSDetCheckpointer",
    "load_weights_to_evaluate",
    "read_checkpoint",
]

logger = logging.getLogger(__name__)

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
# First bytes of the zip archives that torch.save writes (PyTorch >= 1.6).
_ZIP_MAGIC = b"PK\x03\x04"
# Temporary files of a write in progress: ".<target>.<8 random characters>.tmp".
_TMP_FILE = re.compile(r"^\.(?:.+\.pth|last_checkpoint)\.[a-z0-9_]{8}\.tmp$")


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects that safe loading refuses (loading them can run code)."""

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"{path} holds pickled Python objects beyond tensors, arrays and plain containers "
            f"({reason}). Loading it can run arbitrary code from the file, so wsdet refused it. If you "
            f"trust where the file comes from, opt in with the config option '{OPT_IN} True' "
            f"(e.g. append '{OPT_IN} True' to the tools/train_net.py command)."
        )


class CorruptCheckpointError(ValueError):
    """A checkpoint file cannot be decoded: truncated, damaged, or not a checkpoint at all."""

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"{path} cannot be read as a checkpoint ({reason}): the file is truncated, corrupt or not "
            "a checkpoint"
        )
        self.path = path
        self.reason = reason

    def __reduce__(self):
        return type(self), (self.path, self.reason)


class UntrainedModelError(RuntimeError):
    """An evaluation would run a model that no checkpoint initialized."""


class _ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle references a global outside :data:`_SAFE_PKL_GLOBALS`."""


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that only builds the objects of :data:`_SAFE_PKL_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE_PKL_GLOBALS:
            raise _ForbiddenGlobal(f"it references {module}.{name}")
        return _SAFE_PKL_GLOBALS[(module, name)]


def _weights_only_reason(message: str) -> str:
    """torch's reason for a ``weights_only`` refusal without its generic advice, on one line."""
    _, marker, detail = message.partition("WeightsUnpickler error:")
    if not marker:  # the first line is the generic "Weights only load failed ..."
        detail = message.partition("\n")[2]
    detail = re.split(r"\s(?:Please use|Check the documentation)", detail)[0]
    return " ".join(detail.split()) or message.strip().partition("\n")[0]


def _describe(error: Exception) -> str:
    """``"Type: first sentence of the message"`` of an exception."""
    first = re.split(r"(?<=\.)\s", str(error).strip(), maxsplit=1)[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _unpickle(f: IO[bytes], path: str, allow_unsafe: bool) -> Any:
    """The first object pickled in ``f``; only allowed globals unless ``allow_unsafe``."""
    unpickler = pickle.Unpickler if allow_unsafe else _SafeUnpickler
    try:
        return unpickler(f, encoding="latin1").load()
    except _ForbiddenGlobal as e:
        raise UnsafeCheckpointError(path, str(e)) from None
    except Exception as e:  # malformed pickles raise many exception types
        raise CorruptCheckpointError(path, _describe(e)) from None


def _torch_load(path: str, allow_unsafe: bool) -> Any:
    """``torch.load``, with ``weights_only`` passed explicitly (which TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD
    does not override)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=not allow_unsafe)
    except pickle.UnpicklingError as e:
        if allow_unsafe:
            raise CorruptCheckpointError(path, _describe(e)) from e
        raise UnsafeCheckpointError(path, _weights_only_reason(str(e))) from e
    except Exception as e:  # damaged archive (RuntimeError), truncated legacy file (EOFError), ...
        raise CorruptCheckpointError(path, _describe(e)) from e


def read_checkpoint(path: str, allow_unsafe: bool = False) -> Any:
    """
    The object saved in a local file, whatever its name: ``torch.save`` output (zip or legacy format)
    through ``torch.load(weights_only=True)``, any other pickle through an unpickler limited to numpy
    arrays and plain containers (Detectron2 / Caffe2 model-zoo files).

    Args:
        path: the file.
        allow_unsafe: unpickle anything (runs code from the file: trusted files only).

    Raises:
        UnsafeCheckpointError: the file references other Python objects (and not ``allow_unsafe``).
        CorruptCheckpointError: the file is empty, truncated, damaged or not a pickle.
    """
    with open(path, "rb") as f:
        is_torch = f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
        if not is_torch:
            f.seek(0)
            first = _unpickle(f, path, allow_unsafe)
            # a legacy (non-zip) torch.save file starts with torch's magic number
            is_torch = type(first) is int and first == torch.serialization.MAGIC_NUMBER
    return _torch_load(path, allow_unsafe) if is_torch else first


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


class WSDetCheckpointer(DetectionCheckpointer):
    """
    :class:`DetectionCheckpointer` that

    * writes each checkpoint through its ``path_manager``; a local one atomically (temporary file in the
      same folder, created with the umask's permissions like any other output, fsync, ``os.replace``)
      and only then points ``last_checkpoint`` at it (also atomically), so a crash mid-write leaves
      the last good checkpoint in place;
    * loads every file, whatever its name, with :func:`read_checkpoint` (``torch.load(weights_only=True)``
      or an unpickler limited to numpy arrays); anything else raises :class:`UnsafeCheckpointError`
      unless ``allow_unsafe`` (config ``WSDET.ALLOW_UNSAFE_CHECKPOINTS``) is set, and a damaged file
      raises :class:`CorruptCheckpointError`;
    * resumes from the newest readable checkpoint when the one ``last_checkpoint`` names is damaged
      or missing, and removes the temporary files of an interrupted write.

    After each :meth:`load`, ``loaded_file`` is the file read (None if none) and ``matched_parameters``
    the number of model parameters it provided.
    """

    def __init__(self, model, save_dir: str = "", *, allow_unsafe: bool = False, **kwargs):
        """
        Args:
            model, save_dir, kwargs: as :class:`DetectionCheckpointer`.
            allow_unsafe: load any pickle (legacy checkpoints from a trusted source).
        """
        super().__init__(model, save_dir, **kwargs)
        self.allow_unsafe = allow_unsafe
        self.loaded_file: Optional[str] = None
        self.matched_parameters = 0

    # ------------------------------------------------------------------------------------- saving

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {save_file}")
        self._write(save_file, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        self._write(
            os.path.join(self.save_dir, "last_checkpoint"),
            lambda f: f.write(last_filename_basename.encode()),
        )

    def _write(self, path: str, write: Callable[[IO[bytes]], Any]) -> None:
        """``write(f)`` into ``path``: atomically for a local file, else as the storage back-end does."""
        if "://" in path:  # an iopath handler's URI (e.g. s3://): its own write semantics
            with self.path_manager.open(path, "wb") as f:
                write(f)
            return
        folder, basename = os.path.split(path)
        tmp = os.path.join(folder, f".{basename}.{os.urandom(4).hex()}.tmp")
        try:
            with self.path_manager.open(tmp, "xb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        _fsync_dir(folder or ".")

    # ------------------------------------------------------------------------------------ loading

    def load(self, path: str, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        self.loaded_file, self.matched_parameters = None, 0
        try:
            return super().load(path, *args, **kwargs)
        finally:
            self._parsed_url_during_load = None  # Detectron2 leaves it set when a load fails

    # _load_file and _load_model are the extension points that fvcore's Checkpointer documents for
    # subclasses (Detectron2's DetectionCheckpointer overrides them too): there is no public hook.
    def _load_file(self, filename: str) -> Dict[str, Any]:
        if self.allow_unsafe:
            self.logger.warning(f"Loading {filename} with full unpickling ({OPT_IN} is set)")
        self.loaded_file = filename
        extension = os.path.splitext(filename)[1].lower()
        if extension == ".pkl":
            return self._from_model_zoo(read_checkpoint(filename, self.allow_unsafe), filename)
        if extension == ".pyth":
            return self._from_pycls(read_checkpoint(filename, self.allow_unsafe), filename)
        loaded = super()._load_file(filename)  # Detectron2's own format, read by _torch_load
        renamed = torchvision_resnet_to_detectron2(loaded["model"]) if "__author__" not in loaded else None
        if renamed is None:
            return loaded
        self.logger.info(f"{filename} is a torchvision ResNet: renamed to Detectron2's names. It expects "
                         f"{TORCHVISION_RESNET_SETTINGS}")
        return {"model": renamed, "__author__": "torchvision", "matching_heuristics": True}

    def _torch_load(self, f: str) -> Dict[str, Any]:
        return read_checkpoint(f, self.allow_unsafe)

    def _from_model_zoo(self, data: Any, path: str) -> Dict[str, Any]:
        """A model-zoo .pkl as Detectron2 reads it: its own format, else Caffe2 blobs (momenta dropped)."""
        if not isinstance(data, dict):
            raise CorruptCheckpointError(path, f"it holds a {type(data).__name__}, not a dict of weights")
        if "model" in data and "__author__" in data:
            self.logger.info(f"Reading a file from '{data['__author__']}'")
            return data
        blobs = data.get("blobs", data)
        weights = {k: v for k, v in blobs.items() if not k.endswith("_momentum")}
        return {"model": weights, "__author__": "Caffe2", "matching_heuristics": True}

    @staticmethod
    def _from_pycls(data: Any, path: str) -> Dict[str, Any]:
        """A pycls .pyth checkpoint as Detectron2 reads it: ``model_state`` without BatchNorm counters."""
        if not isinstance(data, dict) or not isinstance(data.get("model_state"), dict):
            raise CorruptCheckpointError(path, "a pycls .pyth checkpoint must hold a 'model_state' dict")
        weights = {k: v for k, v in data["model_state"].items() if not k.endswith("num_batches_tracked")}
        return {"model": weights, "__author__": "pycls", "matching_heuristics": True}

    # ----------------------------------------------------------------------------------- resuming

    def resume_or_load(self, path: str, *, resume: bool = True) -> Dict[str, Any]:
        """
        As :meth:`DetectionCheckpointer.resume_or_load`, after removing the temporary files that an
        interrupted write left in ``save_dir``. When resuming, a damaged or missing checkpoint falls
        back to the newest readable one, with a warning.
        """
        if self.save_to_disk:
            self._remove_temporary_files()
        if not (resume and self.has_checkpoint()):
            return self.load(path, checkpointables=[])
        for candidate in self._resume_candidates():
            try:
                return self.load(candidate)
            except CorruptCheckpointError as e:
                self.logger.warning(f"Not resuming from a damaged checkpoint: {e}; trying the next one")
        raise FileNotFoundError(
            f"No readable checkpoint to resume from in {self.save_dir}; remove "
            f"{os.path.join(self.save_dir, 'last_checkpoint')} to train from the start"
        )

    def _resume_candidates(self) -> List[str]:
        """The checkpoint ``last_checkpoint`` names if it exists, then the other ``*.pth``, newest first."""
        named = self.get_checkpoint_file()
        named_exists = self.path_manager.isfile(named)
        if not named_exists:
            pointer, target = os.path.join(self.save_dir, "last_checkpoint"), os.path.basename(named)
            self.logger.warning(
                f"{pointer} names {target!r}, which does not exist" if target else f"{pointer} is empty"
            )
        others = [f for f in self.get_all_checkpoint_files() if f != named]
        if "://" not in self.save_dir:  # modification times of local files
            others.sort(key=os.path.getmtime, reverse=True)
        return [named] * named_exists + others

    def _remove_temporary_files(self) -> None:
        if not self.save_dir or not self.path_manager.isdir(self.save_dir):
            return
        for name in self.path_manager.ls(self.save_dir):
            if _TMP_FILE.match(name):
                self.logger.warning(f"Removing {name}, left in {self.save_dir} by an interrupted save")
                self.path_manager.rm(os.path.join(self.save_dir, name))

    # ---------------------------------------------------------------------------- weights matched

    def _load_model(self, checkpoint: Dict[str, Any]):
        # fvcore's Checkpointer documents _load_file/_load_model as the methods subclasses override
        incompatible = super()._load_model(checkpoint)
        missing = set(incompatible.missing_keys)
        self.matched_parameters = sum(1 for name, _ in self.model.named_parameters() if name not in missing)
        return incompatible


def load_weights_to_evaluate(
    model: torch.nn.Module, cfg: CfgNode, *, resume: bool = False, allow_untrained: bool = False
) -> None:
    """
    Load the weights an evaluation-only run evaluates: with ``resume``, the last checkpoint of
    ``cfg.OUTPUT_DIR`` if there is one, else ``cfg.MODEL.WEIGHTS``.

    Raises:
        UntrainedModelError: no file was loaded, or the file provided none of the model's parameters
            (weights of another architecture), unless ``allow_untrained`` (then only a warning).
    """
    checkpointer = WSDetCheckpointer(
        model, cfg.OUTPUT_DIR, allow_unsafe=cfg.WSDET.ALLOW_UNSAFE_CHECKPOINTS
    )
    checkpointer.resume_or_load(cfg.MODEL.WEIGHTS, resume=resume)
    if checkpointer.loaded_file is None:
        problem = "no weights were loaded: MODEL.WEIGHTS is empty" + (
            f" and {cfg.OUTPUT_DIR} holds no checkpoint to resume from" if resume else ""
        )
    elif checkpointer.matched_parameters == 0:
        total = sum(1 for _ in model.parameters())
        problem = (
            f"none of the model's {total} parameters is in {checkpointer.loaded_file} (weights of "
            f"another architecture than {cfg.MODEL.META_ARCHITECTURE}?)"
        )
    else:
        return
    if not allow_untrained:
        raise UntrainedModelError(
            f"Refusing to evaluate an untrained model: {problem}. Give the trained weights with "
            "MODEL.WEIGHTS, or pass --allow-untrained to evaluate it on purpose (e.g. a baseline)"
        )
    logger.warning(f"Evaluating an untrained model (--allow-untrained): {problem}")
