"""One-to-one greedy matching of detections to ground truth, by decreasing detection score."""

import numpy as np


def greedy_match(
    det_image: np.ndarray,
    det_scores: np.ndarray,
    pair_det: np.ndarray,
    pair_gt: np.ndarray,
    pair_quality: np.ndarray,
) -> np.ndarray:
    """Match detections to ground-truth boxes one-to-one, greedily by decreasing score.

    Args:
        det_image, det_scores: ``(D,)`` image index and score of every detection.
        pair_det, pair_gt, pair_quality: the candidate (detection, GT) pairs, a detection and a GT box
            of the same image, i.e. only the pairs that satisfy the hit criterion, and a quality
            (e.g. IoU) to choose among them.

    Within each image, detections are visited by decreasing score (ties: input order); each takes
    the still unmatched candidate GT of highest quality (ties: lowest GT index). A detection hits at
    most one GT and a GT is hit at most once. Images are processed in parallel: the loop runs over
    the score rank within an image among the detections with a candidate pair, so its length is the
    largest number of such detections in an image.

    Returns:
        ``(D,)`` index of the GT matched to each detection, -1 when unmatched.
    """
    n = len(det_scores)
    matched = np.full(n, -1, dtype=np.int64)
    if len(pair_det) == 0:
        return matched
    # only detections with a candidate pair compete: rank them within their image
    dets = np.unique(pair_det)
    image = np.asarray(det_image)[dets]
    order = np.lexsort((-np.asarray(det_scores, dtype=np.float64)[dets], image))
    sorted_image = image[order]
    rank = np.empty(n, dtype=np.int64)
    rank[dets[order]] = np.arange(len(dets)) - np.searchsorted(sorted_image, sorted_image, side="left")

    pair_rank = rank[pair_det]
    by_rank = np.lexsort((pair_gt, -pair_quality, pair_det, pair_rank))
    pair_det, pair_gt, pair_rank = pair_det[by_rank], pair_gt[by_rank], pair_rank[by_rank]
    gt_taken = np.zeros(int(pair_gt.max()) + 1, dtype=bool)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(pair_rank)) + 1, [len(pair_rank)]])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        # one detection per image at this rank, so no two of them compete for the same GT
        dets, gts = pair_det[start:stop], pair_gt[start:stop]
        free = ~gt_taken[gts]
        dets, gts = dets[free], gts[free]
        _, best = np.unique(dets, return_index=True)
        matched[dets[best]] = gts[best]
        gt_taken[gts[best]] = True
    return matched
