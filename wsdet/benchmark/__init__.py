"""Benchmarks on synthetic data: method leaderboards (``tools/leaderboard.py``) and speed and memory
(``tools/benchmark_speed.py``)."""
from types import ModuleType as _ModuleType

from .report import claims_table, goal_table, leaderboard_table, markdown_table, seed_summary_table, write_report
from .runner import BenchmarkRunner, RunResult, slugify
from .specs import (
    JOINT_GOAL,
    PAPER_CLAIMS,
    QUICK_ITERS,
    SUITES,
    JointGoal,
    MethodRun,
    PaperClaim,
    independent_chains,
    schedule_overrides,
    suite_runs,
    with_iterations,
    with_seeds,
)

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
