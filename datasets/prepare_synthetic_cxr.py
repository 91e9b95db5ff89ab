#!/usr/bin/env python
"""Generate the synthetic chest X-ray dataset: <root>/cxr_synth (see datasets/README.md)."""

from wsdet.data.synthetic import generate_cxr_dataset
from wsdet.data.synthetic.common import run_cli

if __name__ == "__main__":
    run_cli(generate_cxr_dataset, __doc__)
