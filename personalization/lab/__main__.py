"""``python -m personalization.lab <job>``: see :mod:`personalization.lab.jobs`."""

import sys

from personalization.lab.jobs import main

sys.exit(main())
