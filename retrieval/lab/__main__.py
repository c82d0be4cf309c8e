"""``python -m retrieval.lab <job>``: see :mod:`retrieval.lab.jobs`."""

import sys

from retrieval.lab.jobs import main

sys.exit(main())
