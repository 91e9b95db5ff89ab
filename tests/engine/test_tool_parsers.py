"""The parsers shared by wsdet's tools: launch options, the one-model tools' config, datasets and overrides."""
import pytest

from detectron2.config import get_cfg

from wsdet.engine.defaults import dataset_to_probe, launch_argument_parser, model_tool_parser


def test_launch_options_and_overrides():
    parser = launch_argument_parser("does X", "Examples:\n  tool --config-file c.yaml")
    args = parser.parse_args(["--config-file", "c.yaml", "--num-gpus", "2", "MODEL.WEIGHTS", "m.pth"])
    assert (args.config_file, args.num_gpus, args.num_machines, args.machine_rank) == ("c.yaml", 2, 1, 0)
    assert args.dist_url == "auto" and args.opts == ["MODEL.WEIGHTS", "m.pth"]
    assert "Examples:\n  tool --config-file c.yaml" in parser.format_help()


@pytest.mark.parametrize("flag", ["--resume", "--eval-only"])
def test_no_options_the_tool_would_ignore(flag, capsys):
    with pytest.raises(SystemExit):
        launch_argument_parser("does X").parse_args(["--config-file", "c.yaml", flag])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_model_tool_parser_takes_datasets_its_own_flags_and_trailing_overrides():
    parser = model_tool_parser("does Y", "the model's config", epilog="Example:\n  tool --config-file c.yaml")
    parser.add_argument("--max-images", type=int, default=0)
    args = parser.parse_args(["--config-file", "c.yaml", "--dataset", "d", "d.json", "images", "--max-images", "3",
                              "MODEL.WEIGHTS", "m.pth", "SOLVER.BASE_LR", "0.1"])
    assert (args.config_file, args.max_images) == ("c.yaml", 3)
    assert args.dataset == [["d", "d.json", "images"]] and args.strong_dataset == [] == args.weak_dataset
    assert args.opts == ["MODEL.WEIGHTS", "m.pth", "SOLVER.BASE_LR", "0.1"]
    assert parser.parse_args(["--config-file", "c.yaml"]).opts == []
    assert "the model's config" in parser.format_help() and "Example:\n  tool" in parser.format_help()


def test_model_tool_parser_requires_the_config(capsys):
    with pytest.raises(SystemExit):
        model_tool_parser("does Y", "the model's config").parse_args(["MODEL.WEIGHTS", "m.pth"])
    assert "--config-file" in capsys.readouterr().err


def test_probing_tools_take_one_dataset_else_the_configs_first_test_set():
    cfg = get_cfg()
    cfg.DATASETS.TEST = ("bus_synth_test", "bus_synth_val")
    parser = model_tool_parser("probes", "the model's config", probed_dataset="with boxes")
    assert "registered dataset with boxes" in parser.format_help()
    assert dataset_to_probe(parser.parse_args(["--config-file", "c.yaml"]), cfg) == "bus_synth_test"
    given = parser.parse_args(["--config-file", "c.yaml", "--dataset-name", "mine", "MODEL.WEIGHTS", "m.pth"])
    assert dataset_to_probe(given, cfg) == "mine" and given.opts == ["MODEL.WEIGHTS", "m.pth"]
    cfg.DATASETS.TEST = ()
    with pytest.raises(SystemExit, match="no test set"):
        dataset_to_probe(parser.parse_args(["--config-file", "c.yaml"]), cfg)
    with pytest.raises(SystemExit):  # tools that probe nothing do not take the flag
        model_tool_parser("does Y", "the model's config").parse_args(["--config-file", "c.yaml", "--dataset-name", "x"])
