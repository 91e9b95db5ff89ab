#!/usr/bin/env python
"""Train and evaluate every wsdet method on the synthetic data and write one leaderboard.

Suites: ``bus`` (the detectors and the BUS CAM classifier), ``cxr`` (the CAM heads as their papers
define them, with Grad-CAM and GAIN's stage 2), ``bus-cam`` (the CAM heads on breast ultrasound), ``bus-study``
(the ablations of Shin et al. 2019: 20/50/100% of the strong pool for strong-only vs joint, MoI variants,
alpha schedules, alternating mini-batches, normal weak images as background, self-training with 50/75%
pseudo-labels), ``cxr-study`` (the papers' and wsdet's variants of positive-CAM, InfoMask, STL and
PCAM), ``bus-defaults`` (strong only and
each MoI variant, the candidates for the default joint model). Seeds: each config's own, or every
method once per seed with ``--seeds``. The data: the synthetic sets under ``$WSDET_DATASETS`` (point it
to a copy generated with other options to measure a data variant).

Each method trains with ``tools/train_net.py`` (validation at the end of training, where heatmap
thresholds are chosen), then its kept model (``model_best.pth`` of a validation-based selection, else
the last one) is evaluated on the test set with ``--eval-only``. Outputs in --output-dir:
one folder per method (logs, checkpoints, results), ``leaderboard.md`` and ``leaderboard.json``.
A finished method is reused when the command is run again with the same options (``--force``
retrains); a method that fails is reported and the others go on.

Examples:
    python tools/leaderboard.py --quick                       # every method, a few iterations (CPU)
    python tools/leaderboard.py --suite bus-study             # the BUS study at the configs' lengths
    python tools/leaderboard.py --suite cxr --only PCAM LSE --iterations 300
    python tools/leaderboard.py --suite cxr-study --iterations 300   # positive-CAM / InfoMask variants
    python tools/leaderboard.py --suite bus-defaults --seeds 0 1 2    # default candidates over 3 seeds
    python tools/leaderboard.py --suite bus-cam --seeds 0 1 --jobs 6  # 6 runs at a time (a GPU machine)
"""

import argparse
import logging
import os
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

from detectron2.utils.logger import setup_logger

from wsdet.benchmark import (
    QUICK_ITERS,
    SUITES,
    BenchmarkRunner,
    MethodRun,
    RunResult,
    independent_chains,
    suite_runs,
    with_iterations,
    with_seeds,
    write_report,
)
from wsdet.collect_env import machine_summary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", nargs="+", default=["bus", "cxr"], choices=sorted(SUITES),
                        help="suites of methods to run (default: %(default)s)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME",
                        help="method names to run (default: every method of the suites)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[], metavar="S",
                        help="train every method once per seed (SEED S; default: each config's own seed)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--quick", action="store_true",
                        help=f"short runs ({', '.join(f'{k} {v}' for k, v in QUICK_ITERS.items())} iterations)")
    length.add_argument("--iterations", type=_positive_int,
                        help="train every method this many iterations (default: each config's SOLVER.MAX_ITER)")
    parser.add_argument("--output-dir", default="output/benchmark",
                        help="one folder per method, leaderboard.md and leaderboard.json (default: %(default)s)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--force", action="store_true", help="retrain methods that already have results")
    what.add_argument("--report-only", action="store_true",
                      help="train nothing: the report of the methods that have finished")
    what.add_argument("--reevaluate", action="store_true",
                      help="train nothing: evaluate the finished methods' models on the test set again with the "
                      "current code (e.g. after metrics were added) and report them")
    parser.add_argument("--jobs", type=_positive_int, default=1,
                        help="methods trained at the same time (a method waits for the one it starts from; "
                        "default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="print the methods and exit")
    return parser


def _run_chain(chain: Sequence[MethodRun], runner: BenchmarkRunner, args: argparse.Namespace,
               positions: Dict[str, int], total: int) -> Tuple[Dict[str, RunResult], List[str]]:
    """Each run of ``chain`` in order (a run whose parent failed is skipped): the results by name (none
    for a run that failed or, with ``--report-only`` or ``--reevaluate``, has not finished) and the
    names of the runs that failed or were skipped."""
    logger = logging.getLogger("wsdet")
    results: Dict[str, RunResult] = {}
    failed: List[str] = []
    for run in chain:
        iterations = QUICK_ITERS[run.family] if args.quick else args.iterations
        logger.info("[%d/%d] %s", positions[run.name], total, run.name)
        if run.init_from in failed:
            logger.error("%s: skipped, it starts from %s which failed", run.name, run.init_from)
            failed.append(run.name)
            continue
        try:
            run = with_iterations(run, iterations)
            if args.report_only or args.reevaluate:
                result = runner.reevaluate(run) if args.reevaluate else runner.finished(run)
                if result is None:
                    logger.warning("%s: not finished yet, left out", run.name)
                    continue
                results[run.name] = result
            else:
                results[run.name] = runner.run(run)
        except (RuntimeError, ValueError, OSError) as e:
            logger.error("%s failed: %s", run.name, e)
            failed.append(run.name)
    return results, failed


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logger = setup_logger(name="wsdet")
    runs = with_seeds(suite_runs(args.suite, args.only), args.seeds)
    if args.list:
        for run in runs:
            print(f"{run.family:4s} {run.name:48s} {run.config} {' '.join(run.opts)}")
        return 0
    os.makedirs(args.output_dir, exist_ok=True)
    runner = BenchmarkRunner(REPO, os.path.abspath(args.output_dir), force=args.force)
    start = time.perf_counter()
    positions = {run.name: index for index, run in enumerate(runs, 1)}
    chains = independent_chains(runs)
    done: Dict[str, RunResult] = {}
    failed: List[str] = []
    with ThreadPoolExecutor(max_workers=min(args.jobs, max(len(chains), 1))) as pool:
        for chain_results, chain_failed in pool.map(
            lambda chain: _run_chain(chain, runner, args, positions, len(runs)), chains
        ):
            done.update(chain_results)
            failed += chain_failed
    results = [done[run.name] for run in runs if run.name in done]
    failed = [run.name for run in runs if run.name in failed]  # in the order of the runs
    mode = "quick" if args.quick else (f"{args.iterations} iterations" if args.iterations else "config lengths")
    header = (
        f"Command: `{shlex.join(['python', 'tools/leaderboard.py', *(argv if argv is not None else sys.argv[1:])])}` "
        f"({mode}); machine: {machine_summary()}; "
        f"{(time.perf_counter() - start) / 60:.1f} min in all (reused runs count 0)."
        + (f" Failed: {', '.join(failed)}." if failed else "")
    )
    text = write_report(
        results,
        header,
        os.path.join(args.output_dir, "leaderboard.md"),
        os.path.join(args.output_dir, "leaderboard.json"),
    )
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(main())
