"""Slash commands: one definition each gives the parser, the behaviour and the help text.

The turn pipeline runs them for every front end (the TUI answers a few with a screen of its
own). A command that fails raises CommandError before it changes anything.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import platformdirs

from chat import conversation as conv_file
from chat import export
from chat.config import APP_NAME
from chat.conversation import Conversation, describe_request
from chat.engine import Candidate, Message, NextToken
from chat.errors import CommandError, ModelLoadError, ParleyError, did_you_mean
from chat.files import check_target
from chat.history import Entry, Recorder
from chat.models import format_models
from chat.reasoning import without_reasoning
from chat.sampling import EXPLANATIONS, Sampling, describe
from chat.session import Session


@dataclass(frozen=True)
class Outcome:
    """What a command did, and what the turn pipeline should do next."""

    text: str = ""
    quit: bool = False
    generate: str | None = None  # a user message to send next (/retry, /act)
    force_action: bool = False  # generate an action request, constrained by a grammar
    answer: bool | None = None  # the user's answer to the oldest waiting action request
    copy: str | None = None  # text for the clipboard (/copy)
    continue_reply: bool = False  # go on with the last reply (/continue)
    compact: int | None = None  # summarise all in-context turns but this many (/compact)
    probs: NextToken | None = None  # the next-token distribution it looked at (/probs)
    compare: tuple[tuple[str, Sampling], ...] = ()  # the last message again under each setting (/compare)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[[Session, str], Outcome]  # raises CommandError (or another ParleyError) before changing anything


COMMANDS: dict[str, Command] = {}


Run = Callable[[Session, str], Outcome]


def command(name: str, usage: str, help: str) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        COMMANDS[name] = Command(name, usage, help, run)
        return run

    return register


def is_command(line: str) -> bool:
    return line.startswith("/")


def execute(session: Session, line: str) -> Outcome:
    name, _, arg = line.strip().removeprefix("/").partition(" ")
    if name not in COMMANDS:
        raise CommandError(f"unknown command '/{name}'{_hint(name)} (/help lists commands)")
    try:
        return COMMANDS[name].run(session, arg.strip())
    except (CommandError, ModelLoadError):  # a model that cannot load (a server down) is a failure, exit 1
        raise
    except ParleyError as err:  # e.g. a file that cannot be read: still a one-line command error
        raise CommandError(str(err)) from None


def _hint(name: str) -> str:
    return did_you_mean(name, COMMANDS).replace("mean '", "mean '/")


def _need(arg: str, usage: str) -> str:
    if not arg:
        raise CommandError(f"usage: {usage}")
    return arg


# --- help and sampling ----------------------------------------------------------------------


@command("help", "/help [COMMAND]", "list commands, or show one command's help")
def _help(session: Session, arg: str) -> Outcome:
    if arg:
        name = arg.removeprefix("/")
        if name not in COMMANDS:
            raise CommandError(f"unknown command '/{name}'{_hint(name)}")
        cmd = COMMANDS[name]
        text = f"{cmd.usage}\n  {cmd.help}"
        if name == "set":
            text += "\n" + _param_table()
        return Outcome(text)
    width = max(len(c.usage) for c in COMMANDS.values())
    return Outcome("\n".join(f"{c.usage.ljust(width)}  {c.help}" for c in COMMANDS.values()))


def _param_table() -> str:
    rows = describe()
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {name.ljust(width)}  {rng:<22} {desc}" for name, rng, desc in rows)


def _set_param(session: Session, name: str, raw: str) -> Outcome:
    session.params = session.params.with_value(name, raw)
    return Outcome(f"{name} = {getattr(session.params, name)!r}")


@command("set", "/set NAME VALUE", "set a sampling parameter (/help set lists them)")
def _set(session: Session, arg: str) -> Outcome:
    name, _, value = arg.partition(" ")
    if not value.strip():
        raise CommandError("usage: /set NAME VALUE; parameters: " + ", ".join(Sampling.model_fields))
    return _set_param(session, name, value)


def _shortcut(name: str, field: str) -> None:
    info = Sampling.model_fields[field].description
    command(name, f"/{name} VALUE", f"same as /set {field} VALUE ({info})")(
        lambda session, arg: _set_param(session, field, _need(arg, f"/{name} VALUE"))
    )


SHORTCUTS = {"temp": "temperature"}  # the short names of parameters that have one
for _name in ("temp", "top_p", "top_k", "max_tokens", "seed"):
    _shortcut(_name, SHORTCUTS.get(_name, _name))


@command("params", "/params", "show the current sampling parameters")
def _params(session: Session, arg: str) -> Outcome:
    values = session.params.model_dump()
    width = max(map(len, values))
    return Outcome("\n".join(f"{k.ljust(width)}  {_as_typed(v)}" for k, v in values.items()))


def _as_typed(value: object) -> str:
    """A parameter's value as /set takes it: "none" for no seed, stop strings comma-separated."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(json.dumps(s, ensure_ascii=False) for s in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


@command("reset", "/reset", "restore the model's default sampling parameters")
def _reset(session: Session, arg: str) -> Outcome:
    session.params = session.model_config.sampling
    return Outcome("sampling reset: " + session.params.summary())


# --- system prompt, model -------------------------------------------------------------------


@command("system", "/system TEXT", "replace the system prompt")
def _system(session: Session, arg: str) -> Outcome:
    session.set_system(_need(arg, "/system TEXT"))
    return Outcome("system prompt set")


@command("prompt", "/prompt NAME", "use a system-prompt preset (/prompts lists them)")
def _prompt(session: Session, arg: str) -> Outcome:
    session.use_prompt(_need(arg, "/prompt NAME"))
    return Outcome(f"system prompt: preset '{arg}'")


@command("prompts", "/prompts", "list the system-prompt presets")
def _prompts(session: Session, arg: str) -> Outcome:
    current = session.conversation.prompt_name
    width = max(map(len, session.presets))
    return Outcome(
        "\n".join(
            f"{'*' if name == current else ' '} {name.ljust(width)}  {preset.description}"
            for name, preset in sorted(session.presets.items())
        )
    )


@command("model", "/model NAME", "switch to another model from models.toml")
def _model(session: Session, arg: str) -> Outcome:
    session.switch_model(_need(arg, "/model NAME"))
    return Outcome(model_switched(session))


def model_switched(session: Session) -> str:
    """What is said once another model is loaded: its sampling is its own (models.toml's), not the
    settings made for the last one."""
    info = session.engine.info
    said = f"model: {session.model_name} (n_ctx {info.n_ctx}); sampling, its own: {session.params.summary()}"
    return "\n".join([said, *info.notes])


@command("models", "/models", "list the models in models.toml")
def _models(session: Session, arg: str) -> Outcome:
    return Outcome(format_models(session.config))


@command("context", "/context", "show how the context window is used")
def _context(session: Session, arg: str) -> Outcome:
    return Outcome(session.context_report().format())


# --- the conversation -----------------------------------------------------------------------


@command("clear", "/clear", "start a new conversation (the system prompt stays)")
def _clear(session: Session, arg: str) -> Outcome:
    # A new conversation under the same system prompt: nothing of the old one's turns, their
    # other versions (/edit) or their summary (/compact) comes along.
    old = session.conversation
    session.use_conversation(Conversation(system=old.system, prompt_name=old.prompt_name))
    return Outcome("conversation cleared")


@command("undo", "/undo", "remove the last turn")
def _undo(session: Session, arg: str) -> Outcome:
    turn = session.pop_last_turn()
    return Outcome(f"removed: {turn.user[:60]!r}")


@command("retry", "/retry", "generate the last reply again")
def _retry(session: Session, arg: str) -> Outcome:
    turn = session.pop_last_turn("retry")
    return Outcome("retrying", generate=turn.user)


@command("continue", "/continue", "go on with the last reply, cut at max_tokens or stopped")
def _continue(session: Session, arg: str) -> Outcome:
    turns = session.conversation.turns
    reply = turns[-1].reply if turns else None
    if reply is None:
        raise CommandError("no reply to continue")
    if reply.finish_reason not in ("length", "cancelled"):
        raise CommandError(f"the last reply was not cut short (it ended: {reply.finish_reason})")
    return Outcome("continuing the last reply", continue_reply=True)


@command("compact", "/compact [KEEP]", "replace the oldest turns with a summary by the model (keeps the last 2)")
def _compact(session: Session, arg: str) -> Outcome:
    if arg and not arg.isdigit():
        raise CommandError("usage: /compact [KEEP] (how many recent turns stay whole; default 2)")
    keep = int(arg) if arg else 2
    if sum(t.in_context for t in session.conversation.turns) <= keep:
        raise CommandError(f"nothing to compact: at most {keep} turn(s) are in the window")
    return Outcome("summarising the oldest turns…", compact=keep)


@command("think", "/think [on|off]", "show or hide a reasoning model's thinking (<think>...</think>)")
def _think(session: Session, arg: str) -> Outcome:
    if arg not in ("", "on", "off"):
        raise CommandError("usage: /think [on|off]")
    if arg:
        session.show_reasoning = arg == "on"
    return Outcome(f"reasoning is {'shown' if session.show_reasoning else 'hidden'}")


@command("edit", "/edit N TEXT", "send TEXT in place of your message N; what followed is kept as a branch")
def _edit(session: Session, arg: str) -> Outcome:
    number, _, text = arg.partition(" ")
    turns = session.conversation.turns
    if not text.strip() or not number.isdigit():
        raise CommandError("usage: /edit N TEXT (N: the number of your message, as /context lists them)")
    _number(number, len(turns), "message", "in this conversation")
    session.conversation.fork(int(number))
    session.pending.clear()  # requests belonged to a reply now set aside
    return Outcome(f"editing message {number}: the turns from there on are kept as a branch", generate=text.strip())


@command(
    "branch", "/branch [N [K | next | prev]]", "list where the conversation branches, or show version K from turn N"
)
def _branch(session: Session, arg: str) -> Outcome:
    conversation = session.conversation
    points = sorted({b.turn for b in conversation.branches if b.turns})
    if not arg:
        if not points:
            return Outcome("no branches: /edit N TEXT makes one")
        return Outcome("; ".join(f"turn {n}: version {conversation.shown(n)} of {len(conversation.versions(n))}"
                                 for n in points))  # fmt: skip
    number, _, which = arg.partition(" ")
    if not number.isdigit() or int(number) not in points:
        raise CommandError(
            f"no branch at turn {number}" + (f" (branches at: {', '.join(map(str, points))})" if points else "")
        )
    count = len(conversation.versions(int(number)))
    shown = conversation.shown(int(number))
    target = {"next": shown % count + 1, "prev": (shown - 2) % count + 1, "": shown or count}.get(which)
    if target is None:
        target = _number(which, count, "version", f"at turn {number}")
    conversation.switch(int(number), target)
    session.pending.clear()
    return Outcome(f"turn {number}: version {target} of {count}")


def tokenized(session: Session, text: str) -> list[tuple[int, str]]:
    """(id, text) of each token of `text`, or of the last reply's answer when `text` is empty."""
    if not text:
        replies = [t.reply.content for t in session.conversation.turns if t.reply]
        if not replies:
            raise CommandError("usage: /tokens TEXT (or, after a reply, /tokens alone shows the reply's)")
        text = without_reasoning(replies[-1])
    tokens = session.engine.text_tokens(text)
    return list(zip(tokens, session.engine.pieces(tokens), strict=True))


def visible(piece: str) -> str:
    """A token's text with its spaces, tabs and line breaks visible."""
    return piece.replace(" ", "␣").replace("\t", "⇥").replace("\n", "↵")


@command("tokens", "/tokens [TEXT]", "TEXT (or the last reply) as the model's tokens, with their ids and count")
def _tokens(session: Session, arg: str) -> Outcome:
    found = tokenized(session, arg)
    pieces = "".join(f"[{visible(piece)}]" for _, piece in found)
    return Outcome(f"{len(found)} token{'s' * (len(found) != 1)}: {pieces}\nids: {numbered_ids(found)}")


def numbered_ids(found: list[tuple[int, str]]) -> str:
    """The ids, each tenth with its position in front ("11:523"), for /probs POSITION."""
    return " ".join(f"{i}:{token}" if i % 10 == 1 else str(token) for i, (token, _) in enumerate(found, start=1))


PROBS_TOP = 10  # candidates shown at each stage


def next_token(session: Session, arg: str) -> NextToken:
    """/probs: the candidates for the token after the last reply, or, with POSITION, for the
    reply's token at POSITION (1-based) given the tokens before it."""
    turns = [t for t in session.conversation.turns if t.in_context]
    if not turns or turns[-1].reply is None:
        raise CommandError("/probs looks at the last reply: send a message first")
    text = turns[-1].messages()[1]["content"]  # the reply as the model reads it back
    # The prompt of that reply, its text to follow as tokens.
    messages = [*session.conversation.last_prompt(), Message(role="assistant", content="")]
    reply = session.engine.reply_tokens(messages, text)
    if arg and not (arg.isdigit() and 1 <= int(arg) <= len(reply)):
        raise CommandError(f"/probs POSITION: a token of the last reply, from 1 to {len(reply)} (/tokens shows them)")
    position = int(arg) if arg else len(reply) + 1
    written = reply[position - 1] if position <= len(reply) else None
    return session.engine.next_token(messages, reply[: position - 1], session.params, PROBS_TOP, written)


def candidates_text(candidates: Sequence[Candidate]) -> str:
    """Candidates on one line: '"␣cat" 88.52% · "␣dog" 0.78%'."""
    return " · ".join(f'"{visible(c.text)}" {c.p:.2%}' for c in candidates)


def describe_next_token(found: NextToken) -> str:
    """/probs as text: each stage on a line with what it keeps, then the final candidates."""
    if found.written is None:
        lines = ["next token after the last reply:"]
    else:
        lines = [f'token {found.position} of the last reply, where it has "{visible(found.written.text)}" '
                 f"({found.written.p:.2%} from the raw logits):"]  # fmt: skip
    for stage in found.stages:
        lines.append(f"  {stage.name} ({stage.setting}): {stage.kept:,} left: {candidates_text(stage.top[:5])}")
    lines.append("what generation draws from:")
    lines += [f'  {c.p:7.2%} {"█" * max(1, round(c.p * 30))} "{visible(c.text)}"' for c in found.stages[-1].top]
    return "\n".join(lines)


@command(
    "probs",
    "/probs [POSITION]",
    "the next token's candidates after each sampler stage (or at POSITION of the last reply)",
)
def _probs(session: Session, arg: str) -> Outcome:
    return Outcome(probs=next_token(session, arg))  # each front end shows it its way


@command(
    "compare",
    "/compare A B [...]",
    "the last message again under each setting, same seed, side by side (e.g. temp=0.2 temp=1.2,top_k=0)",
)
def _compare(session: Session, arg: str) -> Outcome:
    groups = arg.split()
    if len(groups) < 2:
        raise CommandError(
            "usage: /compare A B [...], each NAME=VALUE[,NAME=VALUE]: /compare temp=0.2 temp=1.2,top_k=0"
        )
    if not any(t.in_context for t in session.conversation.turns):
        raise CommandError("/compare asks the last message again: send one first")
    seed = session.params.seed if session.params.seed is not None else random.randrange(2**32)
    settings = []
    for group in groups:
        params = session.params.model_copy(update={"seed": seed})  # the same for all, unless a group sets one
        for setting in group.split(","):
            name, sep, value = setting.partition("=")
            if not sep:
                raise CommandError(f"/compare: expected NAME=VALUE, got {setting!r}")
            params = params.with_value(SHORTCUTS.get(name, name), value)
        settings.append((group, params))
    return Outcome(compare=tuple(settings))


@command("lora", "/lora [SCALE]", "the LoRA adapter applied to the model, or apply it at SCALE (0 = not at all)")
def _lora(session: Session, arg: str) -> Outcome:
    info = session.engine.info
    if arg:
        try:
            scale = float(arg)
        except ValueError:
            scale = -1.0  # refused below, as a number out of range is
        if not 0.0 <= scale <= 4.0:
            raise CommandError(f"/lora SCALE: expected a number from 0 to 4 (got {arg!r})")
        session.engine.set_lora_scale(scale)
        return Outcome(f"LoRA adapter {Path(info.lora).name} now applied at scale {scale:g}")
    if session.model_config.url is not None:
        return Outcome(f"{session.model_name} is served: its LoRA adapters are set on the server (docs/scaling.md)")
    if not info.lora:
        return Outcome(f"{session.model_name} has no LoRA adapter (set lora_path, and lora_scale, in models.toml)")
    return Outcome(f"LoRA adapter {info.lora}, applied at scale {info.lora_scale:g} (/lora SCALE changes it)")


# The sampler stage (sampler_stages) each parameter is part of.
_STAGES = {"top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "temperature": "temperature",
           "repeat_penalty": "penalties", "presence_penalty": "penalties",
           "frequency_penalty": "penalties"}  # fmt: skip


@command("explain", "/explain PARAM", "what a sampling parameter does, shown on the next token's candidates")
def _explain(session: Session, arg: str) -> Outcome:
    if not arg:
        raise CommandError(f"usage: /explain PARAM, one of: {', '.join(EXPLANATIONS)}")
    arg = SHORTCUTS.get(arg, arg)
    if arg not in EXPLANATIONS:
        raise CommandError(f"unknown parameter '{arg}'{did_you_mean(arg, EXPLANATIONS)}; /explain lists them")
    value = getattr(session.params, arg)
    if isinstance(value, tuple):  # stop strings
        value = ", ".join(value)
    shown = "none" if value is None or value == "" else value
    lines = [f"{arg} = {shown}: {EXPLANATIONS[arg]}"]
    stage = _STAGES.get(arg)
    try:
        found = next_token(session, "") if stage else None
    except ParleyError:  # no reply yet, or an engine without logits (a server's): the explanation alone
        found = None
    names = [s.name for s in found.stages] if found else []
    if found is not None and stage in names:
        before, after = found.stages[names.index(stage) - 1], found.stages[names.index(stage)]
        lines.append(f"On the next token after the last reply, with the current settings: {before.kept:,} candidates "
                     f"before it, {after.kept:,} after; the likeliest were {candidates_text(before.top[:3])}, "
                     f"now {candidates_text(after.top[:3])}.")  # fmt: skip
    elif found is not None:
        lines.append("At temperature 0 it changes nothing now: generation takes the likeliest token.")
    return Outcome("\n".join(lines))


def default_save_path() -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(platformdirs.user_data_dir(APP_NAME)) / "conversations" / f"{stamp}.json"


def _replaceable(path: Path, ours: Callable[[str], bool]) -> bool:
    """Check a file the user names for Parley to write (/save PATH, /export PATH): not a folder,
    in a folder that exists (a mistyped folder is not made), and, if a file is there already,
    one `ours` says Parley wrote (from its first 4 kB): a file of the user's is never replaced.
    True when an earlier one of Parley's will be; an error when it may not be written."""
    check_target(path)
    if not path.exists():
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError as err:
        raise CommandError(f"cannot read {path}: {err.strerror}") from None
    if not ours(head):
        raise CommandError(f"{path} exists and is not a file Parley wrote: give another name, or move it away first")
    return True


@command("save", "/save [PATH]", "save the conversation as JSON (default: the data folder)")
def _save(session: Session, arg: str) -> Outcome:
    path = Path(arg).expanduser() if arg else default_save_path()
    replaced = bool(arg) and _replaceable(path, conv_file.is_saved)
    try:
        conv_file.save(path, session.conversation, session.model_name, session.params)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror}") from None
    return Outcome(f"saved to {path}" + (" (replacing the conversation saved there)" if replaced else ""))


@command("load", "/load PATH", "load a conversation saved with /save")
def _load(session: Session, arg: str) -> Outcome:
    saved = conv_file.load(Path(_need(arg, "/load PATH")).expanduser())
    session.use_conversation(saved.conversation)
    session.params = saved.params
    note = "" if saved.model == session.model_name else f" (saved with model '{saved.model}')"
    return Outcome(f"loaded {len(saved.conversation.turns)} turn(s){note}")


def _history(session: Session) -> Recorder:
    if session.history is None:
        raise CommandError("the history is off (--no-history, or history = false in models.toml)")
    return session.history


def format_entries(entries: list[Entry]) -> str:
    """One line per conversation: id, when, turns, title; a search's match below it."""
    lines = []
    for entry in entries:
        when = entry.updated.astimezone().strftime("%Y-%m-%d %H:%M")
        turns = f"{entry.turns} turn{'s' * (entry.turns != 1)}"
        lines.append(f"{entry.id:>5}  {when}  {turns:>9}  {entry.title}")
        if entry.match:
            lines.append(f"       {entry.match}")
    return "\n".join(lines)


@command("history", "/history [WORDS]", "list past conversations, or those whose turns hold every word")
def _list_history(session: Session, arg: str) -> Outcome:
    database = _history(session).database()
    entries = database.search(arg, 20) if arg else database.entries(20)
    if not entries:
        return Outcome("no conversation matches" if arg else "no conversations in the history yet")
    return Outcome(format_entries(entries) + "\n/open ID opens one")


@command("open", "/open ID", "open a conversation from the history (its turns go on there)")
def _open(session: Session, arg: str) -> Outcome:
    if not arg.isdigit():
        raise CommandError("usage: /open ID (/history lists them)")
    recorder = _history(session)
    saved = recorder.database().load(int(arg))
    session.use_conversation(saved.conversation)
    session.params = saved.params
    recorder.adopt(saved.conversation, int(arg))
    note = "" if saved.model == session.model_name else f" (saved with model '{saved.model}')"
    return Outcome(f"opened conversation {arg}: {len(saved.conversation.turns)} turn(s){note}")


@command("title", "/title TEXT", "name this conversation in the history")
def _title(session: Session, arg: str) -> Outcome:
    recorder = _history(session)
    current = recorder.current(session.conversation)
    if current is None:
        raise CommandError("nothing of this conversation is saved yet: send a message first")
    recorder.database().rename(current, _need(arg, "/title TEXT"))
    return Outcome(f"conversation {current} is now titled {arg!r}")


@command(
    "copy",
    "/copy [N | code [N]]",
    "copy the last reply (or turn N's), or the Nth code block of the last reply with code",
)
def _copy(session: Session, arg: str) -> Outcome:
    replies = [(n, t.reply.content) for n, t in enumerate(session.conversation.turns, start=1) if t.reply]
    if not replies:
        raise CommandError("nothing to copy yet: no reply in this conversation")
    words = arg.split()
    if words[:1] == ["code"]:
        number, blocks = next(((n, b) for n, text in reversed(replies) if (b := code_blocks(text))), (0, []))
        if not blocks:
            raise CommandError("no reply in this conversation has a code block")
        index = _number(
            words[1] if len(words) > 1 else "1", len(blocks), "code block", f"in the reply of turn {number}"
        )
        return Outcome(f"copied code block {index} of the reply of turn {number}", copy=blocks[index - 1])
    if len(words) > 1:
        raise CommandError("usage: /copy [N | code [N]]")
    if not words:
        number, text = replies[-1]
    else:
        number = _number(words[0], len(session.conversation.turns), "turn", "in this conversation")
        text = dict(replies).get(number, "")
        if not text:
            raise CommandError(f"turn {number} has no reply to copy")
    return Outcome(f"copied the reply of turn {number} ({len(text)} characters)", copy=text)


def _number(word: str, count: int, what: str, where: str) -> int:
    if not word.isdigit() or not 1 <= int(word) <= count:
        raise CommandError(f"no {what} {word} {where} (there {'is' if count == 1 else 'are'} {count})")
    return int(word)


def code_blocks(markdown: str) -> list[str]:
    """The text of each fenced or indented code block in `markdown`, in order."""
    from markdown_it import MarkdownIt  # here: 15 ms of imports that every start would pay

    return [t.content for t in MarkdownIt("commonmark").parse(markdown) if t.type in ("fence", "code_block")]


MAX_FILE_BYTES = 4 * 1024 * 1024  # read no more than this: a larger text file cannot fit any window


@command(
    "file",
    "/file [PATH | clear]",
    "attach a text file to your next message (its token cost is shown); list or drop them",
)
def _file(session: Session, arg: str) -> Outcome:
    if not arg:
        if not session.attachments:
            return Outcome("no files attached (/file PATH attaches one to your next message)")
        return Outcome("attached to your next message: " + ", ".join(name for name, _ in session.attachments))
    if arg == "clear":
        session.attachments = []
        return Outcome("attachments dropped")
    path = Path(arg).expanduser()
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise CommandError(f"cannot read {path}: {err.strerror or err}") from None
    if b"\x00" in data:
        raise CommandError(f"{path} is a binary file: only text files can be attached")
    n_ctx, reserved = session.engine.info.n_ctx, session.params.max_tokens
    before = session.engine.count_tokens(session.conversation.context_messages(session.message("")))

    def too_big(size: str) -> CommandError:
        return CommandError(
            f"{path.name} is {size}; with the conversation and {reserved} tokens kept for the reply, "
            f"{n_ctx - reserved - before} of the {n_ctx}-token window are free"
        )

    if len(data) > MAX_FILE_BYTES:  # too big for any window: neither decoded nor tokenized
        raise too_big(f"more than {MAX_FILE_BYTES // 1024 // 1024} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text: only text files can be attached") from None
    session.attachments.append((path.name, text))
    after = session.engine.count_tokens(session.conversation.context_messages(session.message("")))
    cost, free = after - before, n_ctx - reserved - after
    if free < 0:
        session.attachments.pop()
        raise too_big(f"{cost} tokens")
    return Outcome(f"attached {path.name}: {cost} tokens, sent with your next message ({free} tokens left free)")


@command("export", "/export PATH", "export the conversation as Markdown (.md) or JSON (.json)")
def _export(session: Session, arg: str) -> Outcome:
    path = Path(_need(arg, "/export PATH")).expanduser()
    check_target(path)  # a folder is said to be one, not to lack a file ending
    export.render(path.suffix, session.conversation, session.model_name)  # a wrong file ending next
    replaced = _replaceable(path, export.is_export)
    export.export(path, session.conversation, session.model_name)
    return Outcome(f"exported to {path}" + (" (replacing the export there)" if replaced else ""))


@command("moderation", "/moderation [on|off]", "show the moderation backend, thresholds and last verdicts")
def _moderation(session: Session, arg: str) -> Outcome:
    moderator = session.moderator
    if arg == "off":
        moderator.enabled = False
        return Outcome("WARNING: moderation is off; replies are shown without any check (/moderation on)")
    if arg == "on":
        moderator.enabled = True
        moderator.load()  # now, not beside the next reply's output (see Session)
        return Outcome("moderation is on")
    if arg:
        raise CommandError("usage: /moderation [on|off]")
    judge = session.moderation_model
    return Outcome(moderator.describe(f"{judge.name}, {judge.config.source}: judges each whole reply" if judge else ""))


def _answer(session: Session, approved: bool) -> Outcome:
    if not session.pending:
        raise CommandError("no action is waiting for an answer")
    name = session.pending[0].action.name
    return Outcome(f"{'approved' if approved else 'declined'}: {name}", answer=approved)


@command("approve", "/approve", "run the next action the assistant asked for")
def _approve(session: Session, arg: str) -> Outcome:
    return _answer(session, True)


@command("deny", "/deny", "decline the next action the assistant asked for")
def _deny(session: Session, arg: str) -> Outcome:
    return _answer(session, False)


@command("act", "/act [TEXT]", "ask the model for an action request, its output held to the actions' schema")
def _act(session: Session, arg: str) -> Outcome:
    if not session.registry.actions:
        raise CommandError("no actions are enabled ([actions] enabled = false)")
    text = arg or "Pick the action that does what I asked for, and fill in its arguments."
    return Outcome("asking the model for an action request", generate=text, force_action=True)


@command("actions", "/actions", "list the actions the assistant may ask for, and those waiting")
def _actions(session: Session, arg: str) -> Outcome:
    lines = [f"{a.name} ({a.risk}): {a.description}" for a in session.registry.actions.values()]
    lines += [f"waiting for your answer: {describe_request(r, one_line=True)}" for r in session.pending]
    return Outcome("\n".join(lines) or "no actions are enabled ([actions] enabled = false)")


@command("theme", "/theme [NAME]", "show or switch the colour theme (full-screen chat only; also in Ctrl+P)")
def _theme(session: Session, arg: str) -> Outcome:
    raise CommandError("/theme works in the full-screen chat only")  # the TUI answers it itself


@command("quit", "/quit", "leave Parley")
def _quit(session: Session, arg: str) -> Outcome:
    return Outcome(quit=True)
