"""`python -m chat` and the `parley` command. Kept tiny: a Ctrl+C while the rest of Parley is
still importing must end quietly too, not with Python's traceback."""

import gc
import os
import sys


def main() -> int:
    try:
        # Parley's imports make ~150,000 objects that live as long as the process; collecting
        # while they are made found nothing to free and took ~10 ms of every `parley ask`
        # (a full collection among them, ~20 ms). They are left out of later collections.
        gc.disable()
        from chat.cli import main as cli_main

        gc.freeze()
        gc.enable()
        code = cli_main()
    except KeyboardInterrupt:
        print("parley: interrupted", file=sys.stderr)
        code = 130
    return exit_now(code)


def exit_now(code: int) -> int:
    """End the process as soon as the command is done, without the interpreter's teardown.

    By the time a command returns, everything Parley writes is written: the transcript and the
    notes through unbuffered descriptors, the history committed statement by statement, other
    files closed (written atomically). What the teardown would add is freeing every object and
    both models, ~90 ms of a `parley ask` (bench/ask_wall.py), which no one waits for. Only the
    standard streams hold buffered output: they are flushed first.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or a full disk: the output is incomplete
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
