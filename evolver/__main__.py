import sys

from evolver.cli import main

sys.exit(main())
