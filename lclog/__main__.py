import sys

from lclog.cli import main

sys.exit(main())
