#!/usr/bin/env bash
# Idempotent environment setup for wsdet: a virtual environment with torch, Detectron2 and wsdet.
#
#   WSDET_PYTHON=/path/to/python  use that interpreter as is (e.g. an env that already has your own
#                                 Detectron2 build); no virtual environment is created.
#   WSDET_VENV=.venv              where the virtual environment lives (default: .venv in the repo).
#   WSDET_TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
#                                 pip arguments that install torch when it is missing. PyPI's default
#                                 build carries CUDA libraries (several GB); CPU-only machines:
#                                 add --index-url https://download.pytorch.org/whl/cpu (see README).
# Prints the interpreter to use on its last line.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if [[ -n "${WSDET_PYTHON:-}" ]]; then
  py="$WSDET_PYTHON"
else
  venv="${WSDET_VENV:-$repo/.venv}"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "[setup] creating virtual environment $venv" >&2
    python3 -m venv "$venv"
  fi
  py="$venv/bin/python"
fi
pip=("$py" -m pip install --disable-pip-version-check -q)
torch_spec="${WSDET_TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"

if ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  if [[ "$torch_spec" == *download.pytorch.org/whl/cpu* ]]; then
    echo "[setup] installing torch/torchvision: CPU-only wheels (about 200 MB to download)" >&2
  else
    echo "[setup] installing torch/torchvision: PyPI's default build brings CUDA libraries, about 6 GB" \
      "on disk; the whole first setup took 10 minutes on a 2-core machine with a fast network." \
      "Without a GPU, the CPU-only wheels are enough: see WSDET_TORCH_SPEC in the README." >&2
  fi
  # shellcheck disable=SC2086
  "${pip[@]}" $torch_spec
fi

if ! "$py" -c "import detectron2" 2>/dev/null; then
  echo "[setup] installing Detectron2 (sal-detectron2 0.7.2 wheel = upstream commit a59f0563)" >&2
  site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # The wheel is tagged cp310; its Python code runs on 3.10-3.12. Its compiled _C only serves rotated
  # boxes, deformable conv and fast COCO eval, none of which wsdet needs.
  "${pip[@]}" --no-deps --only-binary=:all: --python-version 3.10 --implementation cp \
    --target "$site" --upgrade sal-detectron2==0.7.2
  "${pip[@]}" "fvcore<0.1.6" "iopath<0.1.10" pycocotools "omegaconf<2.4" hydra-core yacs termcolor \
    tabulate cloudpickle tqdm tensorboard matplotlib black packaging Pillow
fi

# Detectron2's model zoo imports pkg_resources, which setuptools 81 removed (torch wants >= 77.0.3).
# An environment given by WSDET_PYTHON is left as it is.
if [[ -z "${WSDET_PYTHON:-}" ]] && ! "$py" -c "import pkg_resources" 2>/dev/null; then
  echo "[setup] installing setuptools<81 (pkg_resources, for detectron2.model_zoo)" >&2
  "${pip[@]}" "setuptools>=77.0.3,<81"
fi

stamp="$("$py" -c 'import sys; print(sys.prefix)')/.wsdet-setup-stamp"
want="$(cat setup.py | sha256sum | cut -d' ' -f1) $repo"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! (cd / && "$py" -c "import wsdet" 2>/dev/null); then
  echo "[setup] installing wsdet (editable) with the test, DICOM and export extras" >&2
  "${pip[@]}" -e ".[test,dicom,export]"
  echo "$want" > "$stamp"
fi
echo "$py"
