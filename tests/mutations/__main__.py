import sys

from mutations.runner import main

sys.exit(main(sys.argv[1:]))
