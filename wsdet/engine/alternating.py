"""Training iterations of two optimizer steps, as the alternating mode of Shin et al.'s official code."""
import time

from detectron2.engine import SimpleTrainer

__all__ = ["AlternatingStepTrainer"]


class AlternatingStepTrainer(SimpleTrainer):
    """
    Each iteration takes one combined batch (box-annotated images first, then image-labelled ones) and
    makes two optimizer steps: ``optimizer`` on the losses of the box-annotated images, then
    ``weak_optimizer`` (its own state, e.g. Adam moments) on the MIL loss of the image-labelled images.
    Every process runs both forward passes, so DDP sees the same graphs on every process.
    """

    def __init__(self, model, data_loader, optimizer, weak_optimizer, **kwargs):
        super().__init__(model, data_loader, optimizer, **kwargs)
        self.weak_optimizer = weak_optimizer

    def run_step(self) -> None:
        assert self.model.training, "[AlternatingStepTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        parts = (
            ([x for x in data if x["supervision"] == "strong"], self.optimizer),
            ([x for x in data if x["supervision"] == "weak"], self.weak_optimizer),
        )
        if not all(batch for batch, _ in parts):
            raise ValueError(
                "WSDET.DATALOADER.MODE 'alternating' needs box-annotated and image-labelled images in every batch"
            )
        loss_dict = {}
        for batch, optimizer in parts:
            losses = self.model(batch)  # the losses of the other kind of image are zero-weighted
            optimizer.zero_grad()
            sum(losses.values()).backward()
            self.after_backward()
            optimizer.step()
            kept = ("loss_mil",) if optimizer is self.weak_optimizer else tuple(k for k in losses if k != "loss_mil")
            loss_dict.update({k: losses[k] for k in kept})
        self._write_metrics(loss_dict, data_time)
