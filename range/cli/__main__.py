import sys

from range.cli.main import main

sys.exit(main())
