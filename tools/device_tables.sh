#!/usr/bin/env bash
# The CAM tables (leaderboard suites bus-cam, then cxr) on a lent GPU machine, as one device-tool command.
#
#   here first:   tools/device_wheels.sh          (what that machine lacks, into .whl/)
#   then:         device run, carry [".whl"], timeout_s 540:
#                 tools/device_tables.sh 360 0 1  (training budget in seconds, then the seeds)
#
# Installs the carried wheels (WSDET_DEVICE_WHEELS, default .whl/, unpacked under $TMPDIR, default /tmp),
# generates the synthetic data, trains WSDET_DEVICE_JOBS runs at a time (default 8) until the budget is
# spent (runs still going then are stopped and left out), and writes to $OUT: gpu.txt (the GPU and
# torch), leaderboard_<suite>.md (the report with the paper claims) and records.tar.gz (each run's
# benchmark_run.json and train.log as <run>/...; copy the records into docs/records/<bus_synth|cxr>/).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:-360}"
shift $(($# > 0 ? 1 : 0))
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(0 1)
py="${WSDET_DEVICE_PYTHON:-python3}"
jobs="${WSDET_DEVICE_JOBS:-8}"
out="${OUT:?OUT must name the folder that comes back}"
work="${TMPDIR:-/tmp}/wsdet-device"
data="$work/data"
runs="$work/runs"
mkdir -p "$data" "$runs"
start=$(date +%s)

wheels="${WSDET_DEVICE_WHEELS:-$repo/.whl}"
if compgen -G "$wheels/*.whl" > /dev/null; then
  site="$work/site"
  for wheel in "$wheels"/*.whl; do "$py" -m zipfile -e "$wheel" "$site"; done
  export PYTHONPATH="$site:$repo${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} > "$out/gpu.txt"
"$py" -c "import detectron2, pycocotools, fvcore, wsdet" || { echo "imports failed; see above" >&2; exit 1; }

export WSDET_DATASETS="$data" OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 PYTHONUNBUFFERED=1
"$py" "$repo/datasets/prepare_synthetic_bus.py" --root "$data" > "$work/data_bus.log" 2>&1 &
"$py" "$repo/datasets/prepare_synthetic_cxr.py" --root "$data" > "$work/data_cxr.log" 2>&1 &
wait || true
echo "data ready after $(($(date +%s) - start)) s"

for suite in bus-cam cxr; do
  left=$((start + budget - $(date +%s)))
  if ((left > 30)); then
    echo "suite $suite: $left s left"
    setsid "$py" "$repo/tools/leaderboard.py" --suite "$suite" --seeds "${seeds[@]}" --jobs "$jobs" \
      --output-dir "$runs" > "$work/leaderboard_$suite.log" 2>&1 &
    leader=$!
    while kill -0 "$leader" 2> /dev/null && (($(date +%s) < start + budget)); do sleep 5; done
    if kill -0 "$leader" 2> /dev/null; then
      echo "suite $suite: budget spent, stopping the runs in flight"
      kill -TERM -- "-$leader" 2> /dev/null
      sleep 5
      kill -KILL -- "-$leader" 2> /dev/null
    fi
    wait "$leader" 2> /dev/null
  fi
  "$py" "$repo/tools/leaderboard.py" --suite "$suite" --seeds "${seeds[@]}" --report-only --output-dir "$runs" \
    > /dev/null 2> "$work/report_$suite.log"
  cp "$runs/leaderboard.md" "$out/leaderboard_$suite.md" 2> /dev/null
done
(cd "$runs" && find . -maxdepth 2 \( -name benchmark_run.json -o -name train.log \) -print0 |
  tar -czf "$out/records.tar.gz" --null -T -)
tail -n 30 "$work"/leaderboard_*.log
echo "finished $(find "$runs" -maxdepth 2 -name benchmark_run.json | wc -l) runs in $(($(date +%s) - start)) s"
