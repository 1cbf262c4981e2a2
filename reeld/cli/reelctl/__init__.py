"""``reelctl``: reeld's reference command-line client. It speaks to the daemon only over D-Bus."""

import sys

#: Exit status after Ctrl-C (128 + SIGINT), as ``reelctl --help`` lists it.
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run one command, and return its exit status (see ``--help``)."""
    try:
        from reeld.cli.reelctl.parser import build_parser

        args = build_parser().parse_args(argv)
        # Only now the bus library and the commands: --help and usage errors stay fast.
        from reeld.cli.reelctl.app import run_args

        return run_args(args)
    except KeyboardInterrupt:
        # Ctrl-C before a command runs (while Python imports the bus library, say): no traceback.
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
