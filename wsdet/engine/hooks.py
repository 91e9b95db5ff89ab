"""Training hooks for exact resumption and for reporting skipped training images."""
import collections
import logging

import numpy as np
from detectron2.engine import HookBase
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng

from ..data.build import SkipReportingLoader

__all__ = ["IterationSeeder", "SkippedImagesReport"]

logger = logging.getLogger(__name__)


class IterationSeeder(HookBase):
    """
    Seeds python, numpy and torch before every step from (seed, rank, iteration), so that the random
    choices of a step (augmentation in the main process, proposal sampling) do not depend on the steps
    before it: a run resumed at iteration t draws what an uninterrupted run draws at t. Augmentation
    in ``DATALOADER.NUM_WORKERS > 0`` worker processes is seeded by the workers, not by this hook.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def before_step(self):
        sequence = np.random.SeedSequence([self.seed, comm.get_rank(), self.trainer.iter])
        seed_all_rng(int(sequence.generate_state(1)[0]))


class SkippedImagesReport(HookBase):
    """At the end of training, logs how many unreadable training images were skipped, and which."""

    def after_train(self):
        loader = self.trainer.data_loader
        if not isinstance(loader, SkipReportingLoader):
            return
        skipped, where = loader.skipped, f" on rank {comm.get_rank()} before training stopped"
        if self.trainer.iter >= self.trainer.max_iter:  # finished, so every process is here
            skipped, where = sum(comm.all_gather(skipped), collections.Counter()), ""
            if not comm.is_main_process():
                return
        logger.info(
            f"{sum(skipped.values())} reads of unreadable training images were skipped{where}; "
            f"files: {', '.join(sorted(skipped)) or 'none'}"
        )
