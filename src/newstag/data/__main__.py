"""``python -m newstag.data validate|stats|split``: an alias of ``newstag data``."""

import sys

from newstag.data.datasheet import main

sys.exit(main())
