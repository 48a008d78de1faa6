import sys

from osgan.cli import main

sys.exit(main())
