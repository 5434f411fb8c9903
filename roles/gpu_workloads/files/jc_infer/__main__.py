# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""python3 -m jc_infer: one run, its JSON result line on stdout, exit 0, 1 or 2 (see the package).

After the result line nothing is left to do: flush and leave with os._exit, skipping the
interpreter's teardown (module and CUDA-context destructors, reader threads), which the pod's
wall clock would otherwise pay for (docs/benchmarks.md, "Time to result")."""

import os
import sys

from .workload import main

CODE = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(CODE)
