"""The strong/weak batch sampler: per-step composition, sharding over ranks, epochs and resuming."""
import itertools
from collections import Counter

import pytest

from wsdet.data import StrongWeakBatchSampler


def _steps(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def _split(indices, num_strong):
    return [i for i in indices if i < num_strong], [i for i in indices if i >= num_strong]


def test_combined_batches_hold_k_strong_and_m_weak():
    sampler = StrongWeakBatchSampler(10, 30, 2, 6, seed=0, rank=0, world_size=1)
    for batch in _steps(sampler, 20):
        strong, weak = _split(batch, 10)
        assert len(strong) == 2 and len(weak) == 6
        assert batch == strong + weak  # strong images first


def test_each_epoch_visits_every_image_once():
    sampler = StrongWeakBatchSampler(10, 30, 2, 6, seed=3, rank=0, world_size=1)
    batches = _steps(sampler, 5)  # 5 steps = 1 epoch of both pools
    counts = Counter(i for b in batches for i in b)
    assert sorted(counts) == list(range(40)) and set(counts.values()) == {1}


def test_two_ranks_get_disjoint_shards_covering_the_single_process_batch():
    kwargs = dict(num_strong=8, num_weak=24, strong_per_step=2, weak_per_step=4, seed=7)
    single = _steps(StrongWeakBatchSampler(**kwargs, rank=0, world_size=1), 12)
    rank0 = _steps(StrongWeakBatchSampler(**kwargs, rank=0, world_size=2), 12)
    rank1 = _steps(StrongWeakBatchSampler(**kwargs, rank=1, world_size=2), 12)
    for s, a, b in zip(single, rank0, rank1):
        assert len(a) == len(b) == 3
        assert not set(a) & set(b)
        assert sorted(a + b) == sorted(s)
        assert len(_split(a, 8)[0]) == 1 and len(_split(b, 8)[0]) == 1


def test_same_seed_same_order_different_seed_differs():
    a = _steps(StrongWeakBatchSampler(20, 20, 2, 2, seed=1, rank=0, world_size=1), 10)
    b = _steps(StrongWeakBatchSampler(20, 20, 2, 2, seed=1, rank=0, world_size=1), 10)
    c = _steps(StrongWeakBatchSampler(20, 20, 2, 2, seed=2, rank=0, world_size=1), 10)
    assert a == b and a != c


def test_start_iter_resumes_the_same_stream():
    full = _steps(StrongWeakBatchSampler(7, 11, 2, 3, seed=5, rank=0, world_size=1), 30)
    resumed = _steps(StrongWeakBatchSampler(7, 11, 2, 3, seed=5, start_iter=17, rank=0, world_size=1), 13)
    assert resumed == full[17:]


def test_alternating_mode_alternates_pools():
    sampler = StrongWeakBatchSampler(6, 12, 2, 4, mode="alternating_batches", seed=0, rank=0, world_size=1)
    batches = _steps(sampler, 12)
    for step, batch in enumerate(batches):
        strong, weak = _split(batch, 6)
        assert (len(strong), len(weak)) == ((2, 0) if step % 2 == 0 else (0, 4))
    # each pool still walks its own epoch: 3 strong steps cover the 6 strong images
    assert sorted(i for b in batches[0:6:2] for i in b) == list(range(6))
    resumed = _steps(StrongWeakBatchSampler(6, 12, 2, 4, mode="alternating_batches", seed=0, start_iter=5,
                                            rank=0, world_size=1), 7)
    assert resumed == batches[5:]


def test_strong_only_and_weak_only():
    strong_only = _steps(StrongWeakBatchSampler(5, 0, 2, 0, seed=0, rank=0, world_size=1), 4)
    assert all(len(b) == 2 and max(b) < 5 for b in strong_only)
    weak_only = _steps(StrongWeakBatchSampler(0, 5, 0, 2, mode="alternating_batches", seed=0, rank=0,
                                              world_size=1), 4)
    assert all(len(b) == 2 for b in weak_only)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_strong=4, num_weak=4, strong_per_step=3, weak_per_step=2, world_size=2),
         "cannot be split over 2 processes"),
        (dict(num_strong=0, num_weak=4, strong_per_step=2, weak_per_step=2, world_size=1),
         "no strong images exist"),
        (dict(num_strong=4, num_weak=4, strong_per_step=0, weak_per_step=0, world_size=1),
         "at least one image"),
        (dict(num_strong=4, num_weak=4, strong_per_step=2, weak_per_step=2, world_size=1,
              mode="mixed"), "mode must be one of"),
    ],
)
def test_invalid_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StrongWeakBatchSampler(seed=0, rank=0, **kwargs)
