"""Method leaderboards on the synthetic data: what ``tools/benchmark.py`` trains, runs and reports."""
from .report import markdown_table, write_report
from .runner import BenchmarkRunner, RunResult, slugify
from .specs import QUICK_ITERS, SUITES, MethodRun, schedule_overrides, suite_runs, with_iterations, with_seeds

__all__ = [
    "BenchmarkRunner",
    "MethodRun",
    "QUICK_ITERS",
    "RunResult",
    "SUITES",
    "markdown_table",
    "schedule_overrides",
    "slugify",
    "suite_runs",
    "with_iterations",
    "with_seeds",
    "write_report",
]
