"""Training and evaluation with Detectron2's trainer: wsdet's trainer, checkpoints, config checks."""
from types import ModuleType as _ModuleType

from .best_checkpoint import BestValidationCheckpointer, add_best_checkpointer
from .checkpoint import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    UntrainedModelError,
    WSDetCheckpointer,
    load_weights_to_evaluate,
)
from .config_checks import ConfigError, check_config
from .distributed import broadcast_buffers, create_ddp_model
from .loss_checks import add_loss_check, check_losses
from .model_ema import ModelEMA, add_model_ema
from .trainer import WSDetTrainer

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
