#!/usr/bin/env python
"""Generate the synthetic breast ultrasound dataset: <root>/bus_synth (see datasets/README.md)."""

from wsdet.data.synthetic import generate_bus_dataset
from wsdet.data.synthetic.common import run_cli

if __name__ == "__main__":
    run_cli(generate_bus_dataset, __doc__)
