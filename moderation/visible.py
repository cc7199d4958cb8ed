"""The words a reader sees when a reply is rendered as Markdown, so that moderation scores what a
person will read: `f<b></b>uck`, `id<!-- -->iot`, `&#102;uck` and `[id](https://x)iot` all show
as plain words in the TUI, and `f**u**ck` shows as one word in bold."""

from __future__ import annotations

import html
import re

_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")  # not an autolink such as <https://x>
_LINK = re.compile(r"!?\[([^\]\n]*)\](?:\([^)\n]*\)|\[[^\]\n]*\])")  # inline and reference links, images
_MARKERS = re.compile(r"(?<=\w)[*_`~]+|[*_`~]+(?=\w)")  # emphasis and code markers against a word


def visible_text(markdown: str) -> str:
    """`markdown` as it reads once rendered: HTML comments and tags dropped, a link or an image
    as its text, emphasis and code markers dropped, then character references decoded (last, so
    that an escaped `&lt;b&gt;` stays visible text)."""
    text = _COMMENT.sub("", markdown)
    text = _TAG.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _MARKERS.sub("", text)
    return html.unescape(text)
