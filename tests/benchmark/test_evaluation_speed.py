"""The evaluation speed benchmark on a few generated images: every metric timed, data as described."""
from wsdet.benchmark.evaluation_speed import process_ms_per_image, synthesize, time_metrics


def test_generated_data_and_timings():
    gt, records = synthesize(30, 5, 16, seed=0)
    assert len(records) == 30 and len(gt.image_ids) == 30
    lesion_images = gt.labels.any(axis=1)
    assert 0 < lesion_images.sum() < 30  # lesion and normal images
    for record, has_lesion in zip(records, lesion_images):
        assert record["boxes"].shape == (5, 4) and bool(record["maps"]) == bool(has_lesion)
        assert all(m.shape == (16, 16) for m in record["maps"].values())
    reported = []
    times = time_metrics(gt, records, 20, lambda label, wall, cpu: reported.append(label))
    assert reported == list(times)
    assert reported[-2:] == ["sum of the metrics above", "all metrics, as LocalizationEvaluator.evaluate"]
    assert len(reported) == 10 and all(wall >= 0 and cpu >= 0 for wall, cpu in times.values())
    assert process_ms_per_image(3, 5, 16) > 0
