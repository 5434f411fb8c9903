# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""python3 -m jc_infer: one run, its JSON result line on stdout, exit 0, 1 or 2 (see the package)."""

import sys

from .workload import main

sys.exit(main())
