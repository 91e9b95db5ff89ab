"""The launch parser of config-driven tools: launch options and overrides only, examples in --help."""
import pytest

from wsdet.engine.defaults import launch_argument_parser


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
