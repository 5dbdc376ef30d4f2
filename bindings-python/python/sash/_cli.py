"""The ``sash`` console script: the command of the ``sash-cli`` crate, run in
this process (``sash --help``)."""

import signal
import sys

from . import _sash


def main() -> None:
    # The command handles SIGINT and SIGTERM itself (a first one stops it
    # cleanly, a second one at once); Python's handlers would only raise a
    # KeyboardInterrupt once it returned.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.stdout.flush()
    status = _sash._cli_main(["sash", *sys.argv[1:]])
    sys.exit(status)


if __name__ == "__main__":
    main()
