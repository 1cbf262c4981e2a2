"""Command-line entry points: the ``reeld`` daemon and the ``reelctl`` client."""
