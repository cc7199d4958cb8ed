"""The injection corpus (tests/data/injection_payloads.jsonl, written independently of the code)
as model replies, through every output: headless text, --json, the transcript, the Markdown
export and the TUI. Nothing is interpreted, nothing unsafe is shown, nothing abusive survives,
nothing imitates Parley, nothing approves or runs an action."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from markdown_it import MarkdownIt

from chat.config import load_config
from chat.sanitize import from_model
from chat.scripted_engine import ScriptedLoader
from chat.tui.screens import ConfirmScreen
from tests.chat.tui.helpers import answer_dialog, make_app, ready, submit, wait_until
from tests.conftest import ROOT, active

CORPUS = [json.loads(line) for line in (ROOT / "tests" / "data" / "injection_payloads.jsonl").read_text().splitlines()]
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufe00-\ufe0d"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
PARLEY_MARK = re.compile(r"⟦(?:removed: [a-z_ ]+|reply withheld by moderation: [^⟧\n]*)⟧")
CHARACTERS = ("escape", "invisible")  # categories whose forbidden strings must appear nowhere at all


def test_the_corpus_is_big_and_covers_every_threat() -> None:
    categories = {row["category"] for row in CORPUS}
    assert len(CORPUS) >= 100 and len(categories) == 8
    assert all(sum(r["category"] == c for r in CORPUS) >= 12 for c in categories)


def config(tmp_path: Path) -> Path:
    script = tmp_path / "replies.jsonl"
    script.write_text("".join(json.dumps({"content": row["payload"]}) + "\n" for row in CORPUS))
    path = tmp_path / "models.toml"
    path.write_text(
        f'default = "s"\n[models.s]\nscript = "{script.name}"\nn_ctx = 65536\n[models.s.sampling]\n'
        'max_tokens = 8192\n[moderation]\nbackend = "offline"\n[actions]\nenabled = true\n'
    )
    return path


@pytest.fixture(scope="module")
def headless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every payload as a reply, in --json and in text mode; each turn exported, then cleared."""
    tmp = tmp_path_factory.mktemp("injection")
    steps = []
    for number in range(len(CORPUS)):
        steps += [{"role": "user", "content": f"reply {number}"}, {"command": f"/export {tmp}/{number}.md"},
                  {"command": "/clear"}]  # fmt: skip
    script = tmp / "script.jsonl"
    script.write_text("".join(json.dumps(step) + "\n" for step in steps))
    env = {"XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config"), "PATH": "/usr/bin:/bin"}
    runs = {}
    for mode in ("json", "text"):
        args = ["--config", str(config(tmp)), "run", str(script), "--approve", "ask"]
        args += ["--json", "--transcript", str(tmp / "t.jsonl")] if mode == "json" else []
        runs[mode] = subprocess.run([sys.executable, "-m", "chat", *args], capture_output=True, cwd=ROOT,
                                    env=env, timeout=600)  # fmt: skip
        assert runs[mode].returncode == 0, runs[mode].stderr[-2000:]
    events = [json.loads(line) for line in runs["json"].stdout.decode().splitlines()]
    return {"tmp": tmp, "runs": runs, "events": events, "turns": [e for e in events if e["type"] == "turn"]}


def test_every_payload_became_one_turn_and_nothing_ran(headless: dict[str, Any]) -> None:
    assert len(headless["turns"]) == len(CORPUS)
    kinds = {e["type"] for e in headless["events"]}
    assert "action_result" not in kinds and "action_decision" not in kinds  # nobody approved anything
    assert not (headless["tmp"] / "data" / "parley" / "notes.md").exists()


def test_nothing_unsafe_reaches_any_output(headless: dict[str, Any]) -> None:
    runs = headless["runs"]
    outputs = {
        "json": runs["json"].stdout.decode(), "text": runs["text"].stdout.decode(),
        "text notices": runs["text"].stderr.decode(), "transcript": (headless["tmp"] / "t.jsonl").read_text(),
    }  # fmt: skip
    for name, data in outputs.items():
        found = UNSAFE.search(data)
        assert found is None, f"{name}: {found.group()!r} at {found.start() if found else 0}"
    for row in CORPUS:
        if row["category"] in CHARACTERS:
            for name, data in outputs.items():
                for forbidden in row["forbidden"]:
                    assert forbidden not in data, (row["id"], name, forbidden)


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[row["id"] for row in CORPUS])
def test_each_reply_as_shown(headless: dict[str, Any], index: int) -> None:
    row, turn = CORPUS[index], headless["turns"][index]
    shown = turn["reply"]
    assert UNSAFE.search(shown) is None
    assert "⟦" not in PARLEY_MARK.sub("", shown) and "⟧" not in PARLEY_MARK.sub("", shown)  # only real marks
    if row["abusive"]:
        assert turn["moderation"]["decision"] in ("redact", "block"), shown
    if row["category"] == "fake_notice":
        assert turn["guard"]["imitations"] or turn["guard"]["claims"], shown
    if row["category"] == "markup" and turn["moderation"]["decision"] == "allow":
        assert shown == from_model(row["payload"])  # markup is text: shown as written


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[row["id"] for row in CORPUS])
def test_each_markdown_export_is_inert_and_keeps_its_structure(headless: dict[str, Any], index: int) -> None:
    text = (headless["tmp"] / f"{index}.md").read_text()
    html = MarkdownIt("commonmark", {"html": True}).render(text)
    for tag, attributes in re.findall(r"<([a-z0-9]+)([^>]*)>", html):
        assert tag in {"h1", "h2", "p", "a", "code", "em", "strong", "ul", "ol", "li", "pre", "hr", "br",
                       "blockquote"}, tag  # fmt: skip
        assert not active(attributes), attributes
    headings = re.findall(r"<h\d>(.*?)</h\d>", html)
    assert headings[0].startswith("Conversation with") and headings[1:3] == ["System", "User (1)"]
    assert re.fullmatch(r"Assistant(?: \[\w+\])?", headings[3]) and len(headings) == 4
    assert UNSAFE.search(text) is None


async def test_the_tui_shows_every_payload_literally(tmp_path: Path) -> None:
    rows = [row for row in CORPUS if len(row["payload"]) < 5_000]  # the huge requests are about parsing
    app = make_app(tmp_path, load_config(config(tmp_path)), ScriptedLoader(*(r["payload"] for r in rows)))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for number, row in enumerate(rows):
            await submit(pilot, f"reply {number}")
            await wait_until(pilot, lambda: not app.generating or isinstance(app.screen, ConfirmScreen))
            while isinstance(app.screen, ConfirmScreen):  # a request the model wrote: the user says no
                await answer_dialog(pilot, "escape")
                await wait_until(pilot, lambda: not app.generating or isinstance(app.screen, ConfirmScreen))
            view = app.chat.query("MessageView").last()
            text = view.text  # type: ignore[attr-defined]
            assert UNSAFE.search(text) is None, row["id"]
            assert "⟦" not in PARLEY_MARK.sub("", text), row["id"]
            if row["category"] == "markup" and text == from_model(row["payload"]):
                svg = app.export_screenshot()
                screen = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
                assert not any(forbidden in screen for forbidden in row["forbidden"]), row["id"]  # no emoji codes
                assert "[" in screen or "[" not in row["payload"], row["id"]  # markup is shown as text
            await submit(pilot, "/clear")
        assert app.is_running
    assert not (Path(platformdirs.user_data_dir("parley")) / "notes.md").exists()  # declined: nothing ran
