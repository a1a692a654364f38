"""The program's entry point and its edge: every command's outcome becomes a published exit code
(0 ok, 1 internal error, traceback only with --debug, 2 user error or failed check, 130
interrupted). `build` goes to its argparse command line in cli_build without importing the typer
app (see there why); everything else to the typer app in cli."""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from cmu610bsp.errors import BspError


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM is handled like Ctrl-C: every command cleans up (children stopped, half-done
    writes rolled back) on the way out, and the exit code is 130."""
    raise KeyboardInterrupt


def edge(run: Callable[[], int], debug: Callable[[], bool]) -> NoReturn:
    """Run a command and exit with its code; user errors, Ctrl-C and internal errors mapped."""
    signal.signal(signal.SIGTERM, _terminated)
    try:
        rc = run()
    except BspError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        rc = 130
    except Exception as e:  # noqa: BLE001 - the edge of the program
        if debug():
            traceback.print_exc()
        else:
            print(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)
    if rc == 130:  # Ctrl-C or SIGTERM, raised or turned into an exit code on the way
        print("interrupted", file=sys.stderr)
    sys.exit(rc)


def main() -> NoReturn:
    argv = sys.argv[1:]
    debug = "--debug" in argv[:1]
    if argv[int(debug):int(debug) + 1] == ["build"]:
        from cmu610bsp import cli_build

        if debug:
            logging.basicConfig(level=logging.DEBUG, format="%(message)s")
        edge(lambda: cli_build.main(argv[int(debug) + 1:]), lambda: debug)
    from cmu610bsp import cli

    edge(lambda: cli.run(argv), cli.debugging)
