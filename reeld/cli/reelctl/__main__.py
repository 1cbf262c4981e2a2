import sys

from reeld.cli.reelctl import main

sys.exit(main())
