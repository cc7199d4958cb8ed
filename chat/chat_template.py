"""A chat template: how a model's messages become its prompt text.

Rendered exactly as llama-cpp-python renders it (its Jinja2 formatter), so that the local engine
and a llama-cpp-python server given the same template read the same prompt, token for token.
`chatml` is the shape most templates have, for engines that have none of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chat.engine import Message
from chat.errors import ConfigError
from chat.gguf_header import MAGIC, GGUFError, read_metadata
from chat.sanitize import clean


class ChatTemplate:
    """A compiled template, tried on a small conversation at once: a broken one is a config
    error when the model loads, not a failure at the first reply."""

    def __init__(self, template: str, name: str, bos: str = "", eos: str = "") -> None:
        import jinja2  # here, with llama_cpp: both are slow to import, and only a template needs them
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.name = name
        try:
            self._formatters = {
                add: Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=add)
                for add in (True, False)
            }
            sample: list[Message] = [
                {"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"}, {"role": "user", "content": "u"},
            ]  # fmt: skip
            for add in (True, False):
                self.render(sample, add)
        except jinja2.TemplateError as err:
            raise ConfigError(f"chat template ({name}) does not work: {clean(str(err))}") from None

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return self._formatters[add_generation_prompt](messages=list(messages)).prompt  # type: ignore[arg-type]


def read_template(path: Path) -> str:
    """A template file's text, or the template inside a GGUF file (a served model's own file)."""
    try:
        with path.open("rb") as f:
            if f.read(4) == MAGIC:
                return _gguf_template(path)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"chat_template {clean(str(path))}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"chat_template {clean(str(path))}: cannot read it as UTF-8 text ({err})") from None


def _gguf_template(path: Path) -> str:
    try:
        found = read_metadata(path, {"tokenizer.chat_template"})
    except GGUFError as err:
        raise ConfigError(f"chat_template {clean(str(path))}: cannot read the GGUF file ({err})") from None
    if "tokenizer.chat_template" not in found:
        raise ConfigError(f"chat_template {clean(str(path))}: this GGUF file holds no chat template")
    return found["tokenizer.chat_template"]


def chatml(messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
    """Messages in ChatML, the template of Qwen, SmolLM and many others."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")
