import sys

from rsspage.cli import main

sys.exit(main())
