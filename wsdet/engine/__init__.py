from .trainer import WSDetTrainer, create_ddp_model

__all__ = ["WSDetTrainer", "create_ddp_model"]
