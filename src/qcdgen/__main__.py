import sys

from qcdgen.cli.main import main

sys.exit(main())
