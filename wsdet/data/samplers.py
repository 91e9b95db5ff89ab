"""Batch sampler that draws strong (box) and weak (image-label) images into each training step.

Each pool is read as an infinite stream of indices: the concatenation of seeded per-epoch permutations.
A step consumes a fixed number of stream positions summed over all processes; process ``r`` takes its
own contiguous slice of them, so shards are disjoint within a step and the same on every run. Because
the stream position is a function of the iteration, training can resume at any iteration.
"""
from typing import Iterator, List, Optional

import numpy as np
from detectron2.utils import comm
from torch.utils.data import Sampler

MODES = ("combined", "alternating_batches")


class _IndexStream:
    """Infinite stream of a pool's indices: epoch ``e`` is a permutation seeded by (seed, pool, e)."""

    def __init__(self, size: int, seed: int, pool_id: int, shuffle: bool):
        self.size, self.seed, self.pool_id, self.shuffle = size, seed, pool_id, shuffle
        self._epoch, self._order = -1, np.arange(size)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch = epoch
            self._order = (
                np.random.default_rng([self.seed, self.pool_id, epoch]).permutation(self.size)
                if self.shuffle
                else np.arange(self.size)
            )
        return self._order

    def take(self, start: int, count: int) -> List[int]:
        """Indices at stream positions ``start .. start + count - 1``."""
        out = []
        for pos in range(start, start + count):
            out.append(int(self._permutation(pos // self.size)[pos % self.size]))
        return out


class StrongWeakBatchSampler(Sampler):
    """Yields, per training step, this process's indices into ``strong pool + weak pool``.

    Indices ``0 .. num_strong-1`` are strong images, ``num_strong ..`` weak images.

    - "combined": every step holds ``strong_per_step`` strong and ``weak_per_step`` weak images
      (summed over processes).
    - "alternating_batches": even steps hold ``strong_per_step`` strong images, odd steps ``weak_per_step`` weak
      images (a pool whose per-step count is 0 is skipped, so every step is of the other kind).
    """

    def __init__(
        self,
        num_strong: int,
        num_weak: int,
        strong_per_step: int,
        weak_per_step: int,
        mode: str = "combined",
        shuffle: bool = True,
        seed: Optional[int] = None,
        start_iter: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.rank = comm.get_rank() if rank is None else rank
        self.world_size = comm.get_world_size() if world_size is None else world_size
        for what, per_step, pool in (
            ("strong", strong_per_step, num_strong),
            ("weak", weak_per_step, num_weak),
        ):
            if per_step % self.world_size:
                raise ValueError(
                    f"{per_step} {what} images per step cannot be split over "
                    f"{self.world_size} processes: use a multiple of {self.world_size}"
                )
            if per_step and not pool:
                raise ValueError(f"{per_step} {what} images per step were asked for, but no {what} images exist")
        if strong_per_step + weak_per_step == 0:
            raise ValueError("a training step needs at least one image")
        self.mode = mode
        self.num_strong = num_strong
        self.per_step = (strong_per_step, weak_per_step)
        seed = comm.shared_random_seed() if seed is None else int(seed)
        self.streams = (
            _IndexStream(num_strong, seed, 0, shuffle),
            _IndexStream(num_weak, seed, 1, shuffle),
        )
        self.start_iter = start_iter

    def _pools_at(self, step: int) -> List[int]:
        """Pools (0 strong, 1 weak) drawn at a step."""
        if self.mode == "combined":
            return [p for p in (0, 1) if self.per_step[p]]
        active = [p for p in (0, 1) if self.per_step[p]]
        return [active[step % len(active)]]

    def _steps_before(self, pool: int, step: int) -> int:
        """How many earlier steps drew from ``pool``."""
        if self.mode == "combined":
            return step
        active = [p for p in (0, 1) if self.per_step[p]]
        k = active.index(pool)
        return (step - k + len(active) - 1) // len(active)

    def indices_at(self, step: int) -> List[int]:
        """This process's indices for training step ``step``."""
        indices: List[int] = []
        for pool in self._pools_at(step):
            per_rank = self.per_step[pool] // self.world_size
            start = self._steps_before(pool, step) * self.per_step[pool] + self.rank * per_rank
            offset = 0 if pool == 0 else self.num_strong
            indices.extend(offset + i for i in self.streams[pool].take(start, per_rank))
        return indices

    def __iter__(self) -> Iterator[List[int]]:
        step = self.start_iter
        while True:
            yield self.indices_at(step)
            step += 1
