from lclog.cli import main
import sys

sys.exit(main())
