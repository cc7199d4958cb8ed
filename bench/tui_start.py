"""The TUI as a person at a terminal sees it (issue 12): `parley` started in a pseudo-terminal.

Measured from spawn: the first paint (the prompt's placeholder is on screen), the model ready
(the status bar shows the context meter), then, while a long reply streams, how long each
keypress takes to be echoed in the prompt (a "§" typed, then the screen bytes holding it).

    python bench/tui_start.py [--rounds 3]

Targets: first paint < 0.5 s; a keypress while streaming echoed within 50 ms.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = b"Enter sends"
READY = b"mod: "  # the status bar names the moderation once the model is loaded
KEY = "§".encode()  # typed while a reply streams: no reply holds it, so its echo is the prompt's
QUESTION = b"Write a long story about a lighthouse keeper and a storm.\r"


class Terminal:
    """`parley` on a pseudo-terminal of 120x40, its output read as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.start = time.perf_counter()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: parley's TUI
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "chat"], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.seen = b""

    def wait_for(self, needle: bytes, timeout: float = 60.0, after: int = 0) -> float:
        """Seconds from spawn until `needle` appears in the output past offset `after`."""
        deadline = time.perf_counter() + timeout
        while needle not in self.seen[after:]:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise SystemExit(f"timed out waiting for {needle!r}")
            if select.select([self.fd], [], [], left)[0]:
                self.seen += os.read(self.fd, 65536)
        return time.perf_counter() - self.start

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def round_(env: dict[str, str]) -> tuple[float, float, list[float]]:
    term = Terminal(env)
    try:
        paint = term.wait_for(PLACEHOLDER)
        ready = term.wait_for(READY)
        term.type(QUESTION)
        term.wait_for(b"Assistant")
        echoes = []
        for _ in range(10):  # while the reply streams
            time.sleep(0.2)
            mark = len(term.seen)
            sent = time.perf_counter()
            term.type(KEY)
            term.wait_for(KEY, timeout=5, after=mark)  # the echo (Textual redraws the prompt's line)
            echoes.append(time.perf_counter() - sent)
        return paint, ready, echoes
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paints, readies, echoes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TERM": "xterm-256color", "XDG_DATA_HOME": tmp, "XDG_CONFIG_HOME": tmp}
        env.pop("CI", None)
        for n in range(args.rounds):
            paint, ready, echo = round_(env)
            paints.append(paint)
            readies.append(ready)
            echoes += echo
            print(f"round {n + 1}: first paint {paint * 1e3:.0f} ms, model ready {ready * 1e3:.0f} ms, "
                  f"keypress echo while streaming: median {statistics.median(echo) * 1e3:.0f} ms, "
                  f"max {max(echo) * 1e3:.0f} ms")  # fmt: skip
    print(f"\nfirst paint, median {statistics.median(paints) * 1e3:.0f} ms (target < 500 ms); model ready "
          f"{statistics.median(readies) * 1e3:.0f} ms; keypress echo while streaming: median "
          f"{statistics.median(echoes) * 1e3:.0f} ms, 90th percentile "
          f"{statistics.quantiles(echoes, n=10)[-1] * 1e3:.0f} ms (target <= 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
