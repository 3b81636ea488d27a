"""Flag parsing shared by the two launchers: a one-line error, the environment fallback, the port type."""

from __future__ import annotations

import argparse
import os


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error: ``PROG: error: WHAT (see --help)``, exit status 2.

    The default also prints the whole usage block, which buries the one line that matters when a
    launcher is run by a script or a service manager.
    """

    def error(self, message: str):  # type: ignore[override]
        """Print the one-line error and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def env(name: str, default: str) -> str:
    """The environment variable ``name``, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


def port_number(text: str) -> int:
    """argparse type: a TCP port number, 0 for any free port."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {value}")
    return value


def count(text: str) -> int:
    """argparse type: a whole number of zero or more (0 turns a limit off)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value}")
    return value
