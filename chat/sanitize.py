"""Make untrusted text (model output, files) safe to print to a terminal.

Removing every control character except newline and tab disarms ANSI/OSC escape sequences
whatever way a stream splits them: the ESC byte (or C1 CSI/OSC) that starts one never gets
through, so the rest is inert text. Rich markup is a separate concern: print with markup off.
"""

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n"))
