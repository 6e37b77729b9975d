import sys

from openfal.cli.main import main

sys.exit(main())
