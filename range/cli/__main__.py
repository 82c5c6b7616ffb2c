import sys

from range.cli.parser import main

sys.exit(main())
