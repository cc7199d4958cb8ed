"""`python -m chat` and the `parley` command. Kept tiny: a Ctrl+C while the rest of Parley is
still importing must end quietly too, not with Python's traceback."""

import sys


def main() -> int:
    try:
        from chat.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:
        print("parley: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
