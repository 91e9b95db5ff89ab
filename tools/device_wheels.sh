#!/usr/bin/env bash
# Downloads into .whl/ (git-ignored) the wheels that a lent GPU machine lacks to run wsdet: that machine
# has Python 3.12 with torch, torchvision, OpenCV, numba, scipy, matplotlib and TensorBoard, but no
# network. Run it here, then name .whl in the device run's `carry` (tools/device_tables.sh installs them).
# Idempotent: wheels already in .whl/ are kept.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${WSDET_PYTHON:-$repo/.venv/bin/python}"
dest="$repo/.whl"
mkdir -p "$dest"

platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64 any; do
  platforms+=(--platform "$p")
done
download() {  # python version, then requirement specs
  local version="$1"
  shift
  "$py" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
    --python-version "$version" --implementation cp "${platforms[@]}" -d "$dest" "$@"
}
# Detectron2's wheel is tagged cp310; its Python code runs on 3.12 (see tools/setup_env.sh).
download 3.10 sal-detectron2==0.7.2
download 3.12 "iopath==0.1.9" "pycocotools==2.0.11" "omegaconf==2.3.1" \
  "hydra-core==1.3.8" "yacs==0.1.8" "termcolor==3.3.0" "pydicom==3.0.2" "portalocker==4.4.2"
# fvcore and antlr4 publish source archives only: build their wheels (pure Python) here
"$py" -m pip wheel --disable-pip-version-check -q --no-deps -w "$dest" "antlr4-python3-runtime==4.9.3" \
  "fvcore==0.1.5.post20221221"
ls -1 "$dest"
du -sh "$dest"
