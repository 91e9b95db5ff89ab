from .checkpoint import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    UntrainedModelError,
    WSDetCheckpointer,
    load_weights_to_evaluate,
)
from .config_checks import ConfigError, check_config
from .distributed import broadcast_buffers, create_ddp_model
from .train_loop import check_finite_losses
from .trainer import WSDetTrainer

__all__ = [
    "ConfigError",
    "CorruptCheckpointError",
    "UnsafeCheckpointError",
    "UntrainedModelError",
    "WSDetCheckpointer",
    "WSDetTrainer",
    "broadcast_buffers",
    "check_config",
    "check_finite_losses",
    "create_ddp_model",
    "load_weights_to_evaluate",
]
