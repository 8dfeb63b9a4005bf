import sys

from lclog.cli.main import main

sys.exit(main())
