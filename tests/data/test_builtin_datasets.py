"""The embedded synthetic datasets registered under fixed names."""
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

from conftest import unique_name
from wsdet.data.builtin import register_synthetic
from wsdet.data.synthetic import BUS_SPEC, generate_bus_dataset

SCRIPT = "datasets/prepare_synthetic_bus.py"


def test_fixed_names_are_registered_on_import():
    import wsdet  # noqa: F401

    names = set(DatasetCatalog.list())
    for name in ("bus_synth_strong_train", "bus_synth_weak_train", "bus_synth_val", "bus_synth_test",
                 "cxr_synth_train", "cxr_synth_train_masks", "cxr_synth_val", "cxr_synth_test"):
        assert name in names
        assert MetadataCatalog.get(name).evaluator_type == "wsdet"


def test_missing_dataset_says_how_to_generate_it(tmp_path):
    prefix = unique_name("bus_missing")
    register_synthetic(BUS_SPEC, str(tmp_path), SCRIPT, prefix=prefix)
    with pytest.raises(FileNotFoundError, match=f"prepare_synthetic_bus.py --root {tmp_path}"):
        DatasetCatalog.get(f"{prefix}_test")


def test_generated_copy_loads_with_its_supervision(tmp_path):
    generate_bus_dataset(str(tmp_path), num_strong=3, num_weak=4, num_val=2, num_test=2, size=64)
    prefix = unique_name("bus_small")
    names = register_synthetic(BUS_SPEC, str(tmp_path), SCRIPT, prefix=prefix)
    assert names == [f"{prefix}_{split}" for split in BUS_SPEC.splits]
    strong = DatasetCatalog.get(f"{prefix}_strong_train")
    weak = DatasetCatalog.get(f"{prefix}_weak_train")
    assert len(strong) == 3 and {d["supervision"] for d in strong} == {"strong"}
    assert len(weak) == 4 and {d["supervision"] for d in weak} == {"weak"}
    assert MetadataCatalog.get(f"{prefix}_test").thing_classes == ["benign", "malignant"]
