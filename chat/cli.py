"""The `parley` command line.

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import platformdirs

from actions.registry import Registry
from chat import __version__, export
from chat.commands import format_entries
from chat.config import APP_NAME, Config, find_config, load_config
from chat.errors import ParleyError, Terminated, UsageError, did_you_mean
from chat.events import ErrorRaised
from chat.files import crash_report, fault_line
from chat.history import HistoryError, Recorder, default_path, dumps_entry, open_history
from chat.models import format_models, list_models, load_engine
from chat.moderation_model import ModerationModel
from chat.pipeline import ApprovalPolicy
from chat.runner import Runner
from chat.sampling import Sampling
from chat.sanitize import clean, json_line
from chat.script import Step, as_text, read_script, text_lines
from chat.session import Session, check_preset, presets_of
from chat.transcript import Transcript, check_named
from moderation.claims import find_claims
from moderation.claims_head import load_check
from moderation.filter import Moderator
from moderation.verdict import SEVERITY

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

SUBCOMMANDS = ("chat", "ask", "run", "models", "history", "moderate", "moderation", "guard")
# Options that take a value, so that `parley --model m ask hi` finds the subcommand after it.
VALUE_OPTIONS = {"--config", "--model", "-m", "--set", "--system", "--prompt", "--seed", "--transcript", "--approve",
                 "--allow-irreversible", "--backend"}  # fmt: skip


class Parser(argparse.ArgumentParser):
    """argparse, with what it echoes back of the command line (a bad value) made safe to print,
    and a bad command line told in one line (argparse prints the whole usage first)."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        super()._print_message(clean(message), file)

    json_errors = False  # the command prints events (--json on chat, ask or run): an error is one too

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments: --set" in message:
            hint = "--set is for chat, ask and run; "
        elif "unrecognized arguments: --" in message:
            hint = "settings are --set NAME=VALUE; "
        else:
            hint = ""
        line = f"{message} ({hint}see {self.prog} --help)"
        _error_event(line)
        self.exit(2, f"{self.prog}: error: {line}\n")


EVENT_COMMANDS = ("chat", "ask", "run")  # their --json output is the pipeline's events


def _error_event(text: str) -> None:
    """With events on stdout, an error before they begin is one too: a program reading them
    learns why none came (errors later on are events already)."""
    if Parser.json_errors:
        print(json_line(ErrorRaised(clean(text)).to_json()), flush=True)


def build_parser() -> argparse.ArgumentParser:
    config = Parser(add_help=False)
    config.add_argument(
        "--config",
        metavar="PATH",
        help="models.toml to use (default: $PARLEY_CONFIG, the user config dir, then the one shipped with Parley)",
    )
    common = Parser(add_help=False, parents=[config])
    common.add_argument("--model", "-m", metavar="NAME", help="model from models.toml (default: its `default`)")
    common.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="settings",
        help="sampling parameter, e.g. --set temperature=0.2 (repeatable)",
    )
    common.add_argument("--system", metavar="TEXT", help="system prompt text")
    common.add_argument("--prompt", metavar="NAME", help="system-prompt preset (see /prompts)")
    common.add_argument("--seed", metavar="N", help="random seed (with temperature 0: reproducible); -1: random")
    common.add_argument("--json", action="store_true", help="print JSON Lines events instead of text")
    common.add_argument("--transcript", metavar="PATH", type=Path, help="append every event to this JSONL file")
    common.add_argument("--no-history", action="store_true", help="do not save this conversation in the history")
    common.add_argument(
        "--logprobs", action="store_true", help="each reply's token log-probabilities (in --json) and perplexity"
    )
    common.add_argument(
        "--approve",
        choices=["never", "ask", "always"],
        help="who answers action requests (default: ask at a terminal, never otherwise)",
    )
    common.add_argument(
        "--allow-irreversible",
        metavar="ACTION",
        action="append",
        default=[],
        help="an irreversible action that --approve always may run (repeatable)",
    )

    parser = Parser(prog="parley", description="Chat with a local LLM through llama.cpp.")
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND")
    chat = sub.add_parser("chat", parents=[common], help="chat in the terminal (the default command)")
    chat.add_argument("--line", action="store_true", help="a plain line-mode chat instead of the full-screen TUI")
    ask = sub.add_parser("ask", parents=[common], help="ask one question; piped stdin is appended")
    ask.add_argument("question", nargs="*")
    run = sub.add_parser("run", parents=[common], help="run a conversation script (text or JSON Lines)")
    run.add_argument("script", type=Path)
    models = sub.add_parser("models", parents=[config], help="list the models in models.toml")
    models.add_argument("--json", action="store_true", help="JSON Lines: one model a line")
    history = sub.add_parser("history", parents=[config], help="past conversations: list, search, show, export, delete")
    history.add_argument("action", nargs="?", default="list", choices=["list", "search", "show", "export", "delete"])
    history.add_argument("target", nargs="*", help="search: the words; show, export, delete: a conversation's id")
    history.add_argument("--json", action="store_true", help="JSON Lines (list, search), JSON (show)")
    history.add_argument("--limit", type=int, default=50, help="at most this many conversations (list, search)")
    moderate = sub.add_parser("moderate", parents=[config], help="print a moderation verdict for each line of stdin")
    moderate.add_argument(
        "--backend", choices=["auto", "detoxify", "contextual", "offline"], help="override [moderation] backend"
    )
    moderate.add_argument("--json", action="store_true", help="JSON Lines with the scores")
    guard = sub.add_parser("guard", parents=[config], help="print the unbacked action claims in each line of stdin")
    guard.add_argument("--json", action="store_true", help="JSON Lines: the claims of each line")
    moderation = sub.add_parser("moderation", parents=[config], help="prepare the encoder, fetch Detoxify weights")
    moderation_sub = moderation.add_subparsers(dest="action", metavar="ACTION", required=True)
    moderation_sub.add_parser("prepare", help="build the sentence encoder of the default moderation (once)")
    download = moderation_sub.add_parser("download", help="fetch Detoxify weights into the torch and HF caches")
    download.add_argument(
        "variant",
        nargs="?",
        default="original",
        choices=["original", "unbiased", "multilingual", "original-small", "unbiased-small"],
    )
    return parser


def subcommand_first(argv: list[str]) -> list[str]:
    """Options may come before the subcommand, as in git (`parley --config X ask hi`): move
    the subcommand to the front; with none, the subcommand is `chat`."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        i += 2 if argv[i] in VALUE_OPTIONS else 1
    if i < len(argv) and argv[i] in SUBCOMMANDS:
        return [argv[i], *argv[:i], *argv[i + 1 :]]
    if argv and argv[0] in ("-h", "--help", "--version"):
        return argv
    if argv and not argv[0].startswith("-"):  # a word where the command goes: `parley nosuchcmd`
        build_parser().error(f"unknown command '{argv[0]}' (one of: {', '.join(SUBCOMMANDS)})")
    return ["chat", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ordered = subcommand_first(argv)
    Parser.json_errors = "--json" in ordered and ordered[0] in EVENT_COMMANDS
    args = build_parser().parse_args(ordered)
    try:
        return dispatch(args)
    except ParleyError as err:
        print(f"parley: error: {clean(str(err))}", file=sys.stderr)
        _error_event(str(err))
        return err.exit_code
    except Terminated:
        print("parley: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("parley: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`parley ask ... | head`): stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout once more at exit
        return 1
    except OSError as err:  # stdout cannot be written, e.g. a full disk
        print(f"parley: error: cannot write the output: {err.strerror}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - a fault of Parley's own: one line, the traceback in a file
        report = crash_report(err, Path(platformdirs.user_data_dir(APP_NAME)))
        print(f"parley: {clean(fault_line(err, report))}", file=sys.stderr)
        return 1


def dispatch(args: argparse.Namespace) -> int:
    if args.cmd == "moderation" and args.action == "prepare":
        from moderation.backends import BackendError
        from moderation.prepare import PrepareError, prepare

        try:
            print(f"encoder ready: {prepare()}")
        except (PrepareError, BackendError) as err:
            raise ParleyError(str(err)) from None
        return 0
    if args.cmd == "moderation":
        from moderation.detox import download

        for path in download(args.variant):
            print(f"downloaded: {path}")
        return 0
    config = load_config(find_config(args.config))
    if args.cmd == "guard":
        return _guard(config, args.json)
    if args.cmd == "models":
        if args.json:
            for row in list_models(config):
                print(json_line(row.to_json()))
        else:
            print(format_models(config))
        return 0
    if args.cmd == "history":
        return _history(args)
    if args.cmd == "moderate":
        return _moderate(config, args)
    steps = _steps(args)  # read the input before loading the model: usage errors come first
    if args.transcript:
        check_named(args.transcript)
    params = _checked_options(config, args)
    if steps is None and sys.stdin.isatty() and sys.stdout.isatty() and not (args.line or args.json):
        return _tui(config, args, params)
    session = Session(config, load_engine, args.model, history=_recorder(config, args))
    transcript = Transcript(args.transcript) if args.transcript else None
    try:
        _apply_options(session, args, params)
        person = sys.stdin.isatty()  # someone at the terminal who can answer questions
        runner = Runner(
            session, json_mode=args.json, transcript=transcript,
            interactive=steps is None and person,
            can_ask=person, approve=args.approve, allow_irreversible=frozenset(args.allow_irreversible),
        )  # fmt: skip
        code = runner.start()
        if code:
            return code
        if steps is None:
            from chat.linechat import line_chat

            session.warm_up()
            return line_chat(runner)
        return runner.run(steps)
    finally:
        if transcript is not None:
            transcript.close()
        session.close()


def _moderate(config: Config, args: argparse.Namespace) -> int:
    """Verdicts for stdin, one line each: `allow`/`warn`/`redact`/`block` and the flagged scores;
    with a moderation model set up, its verdict too (and the worse of the two decides)."""
    settings = config.moderation.model_copy(
        update={"enabled": True, **({"backend": args.backend} if args.backend else {})}
    )
    moderator = Moderator(settings)
    moderator.load()
    if moderator.load_error:  # one line now, not a failed verdict for every line of the input
        raise ParleyError(f"the moderation backend cannot load: {moderator.load_error}")
    llm = settings.llm
    judge = ModerationModel(llm, load_engine("moderation.llm", llm), moderator) if llm else None
    failed = False
    try:
        for _, text in text_lines(sys.stdin):
            verdict = moderator.check(text)
            failed = failed or verdict.error is not None
            second = judge.check("", text) if judge else None
            decision = max([verdict, *([second] if second else [])], key=lambda v: SEVERITY[v.decision]).decision
            if args.json:
                record = {"text": text, **verdict.model_dump(mode="json"), "decision": decision}
                print(json_line({**record, "model": second.model_dump(mode="json") if second else None}), flush=True)
            else:
                found = "; ".join(v.scores_text() for v in (verdict, second) if v and v.scores_text())
                print(f"{decision}\t{found}\t{clean(text)}", flush=True)
    finally:
        if judge is not None:
            judge.close()
    return 1 if failed else 0  # a check that failed (and was decided by fail = closed or open)


def _guard(config: Config, as_json: bool) -> int:
    """Claims in assistant messages read from stdin, one message a line (no action ran)."""
    backers = Registry.from_config(config.actions).backers
    confirm, why = load_check() if config.actions.claim_check == "learned" else (None, "")
    if why:
        print(f"parley: the grammar decides alone: {why}", file=sys.stderr)
    for _, text in text_lines(sys.stdin):
        claims = find_claims(text, backers=backers, confirm=confirm)
        if as_json:
            print(json_line({"text": text, "claims": [c.model_dump() for c in claims]}), flush=True)
        else:
            for claim in claims:
                print(f"{clean(claim.sentence)}\t{claim.reason}", flush=True)
    return 0


def _tui(config: Config, args: argparse.Namespace, params: Sampling) -> int:
    from chat.tui.app import ParleyApp  # textual is imported only when the TUI runs

    policy = ApprovalPolicy(
        args.approve or "ask", frozenset(args.allow_irreversible) | frozenset(config.actions.allow_irreversible)
    )
    app = ParleyApp(
        config, load_engine, args.model, lambda s: _apply_options(s, args, params), args.transcript, policy=policy,
        history=not args.no_history,
    )  # fmt: skip
    try:
        app.run()
    except KeyboardInterrupt:  # a SIGINT from outside (the terminal's Ctrl+C is a key in the TUI)
        return 130
    if app.autosave_path.exists():
        saved = f"the conversation is saved in {app.autosave_path}"
    else:
        saved = (
            "no turn had finished, so none was lost" if app.history_wanted else "the history is off: nothing was kept"
        )
    if app.fault is not None:
        print(f"parley: {clean(fault_line(*app.fault))}; {saved}", file=sys.stderr)
    elif app.return_code and app.transcript_failed:
        assert app.transcript is not None  # one that failed exists
        where = clean(str(app.transcript.path))
        print(f"parley: the transcript {where} stopped being written (see the notice)", file=sys.stderr)
    elif app.return_code:
        print(f"parley: the chat ended with an error; {saved}", file=sys.stderr)
    return app.return_code or 0


def _recorder(config: Config, args: argparse.Namespace) -> Recorder | None:
    """What saves this conversation in the history; None when off or when it cannot be opened
    (then the chat goes on, and says so)."""
    if not config.history or args.no_history:
        return None
    try:
        return Recorder(open_history(default_path()))
    except HistoryError as err:
        print(f"parley: warning: {clean(str(err))}; this conversation is not saved in the history", file=sys.stderr)
        return None


def _history(args: argparse.Namespace) -> int:
    """`parley history [list|search WORDS|show ID|export ID|delete ID]`."""
    history = open_history(default_path())
    try:
        if args.action in ("list", "search"):
            words = " ".join(args.target)
            entries = history.search(words, args.limit) if args.action == "search" else history.entries(args.limit)
            if args.json:
                print("".join(dumps_entry(entry) + "\n" for entry in entries), end="")
            elif entries:
                print(format_entries(entries))
            if not entries and not args.json:
                print("no conversations match" if args.action == "search" else "no conversations yet", file=sys.stderr)
            return 0
        if len(args.target) != 1 or not args.target[0].isdigit():
            got = f"got {' '.join(args.target)!r}" if args.target else "got none"
            to_file = "; it writes to stdout: parley history export ID > FILE" if args.action == "export" else ""
            raise UsageError(
                f"parley history {args.action} takes one conversation id ({got}; see parley history list){to_file}"
            )
        conversation_id = int(args.target[0])
        if args.action == "delete":
            history.delete(conversation_id)
            print(f"deleted conversation {conversation_id}")
            return 0
        saved = history.load(conversation_id)
        if args.action == "export":  # a conversation file, as /save writes and /load reads
            print(saved.model_dump_json(by_alias=True, indent=2))
        else:
            print(export.render(".json" if args.json else ".md", saved.conversation, saved.model), end="")
        return 0
    finally:
        history.close()


def _steps(args: argparse.Namespace) -> list[Step] | None:
    """The scripted steps of `ask` and `run`; None for an interactive or piped chat."""
    if args.cmd == "run":
        return read_script(args.script)
    if args.cmd != "ask":
        return None
    question = as_text(" ".join(args.question).strip(), "the question")
    if not sys.stdin.isatty():
        try:
            piped = as_text(sys.stdin.read().strip(), "stdin")
        except UnicodeDecodeError:
            raise UsageError("stdin holds bytes that are not UTF-8 text; Parley reads text") from None
        question = f"{question}\n\n{piped}".strip() if piped else question
    if not question:
        raise UsageError("ask needs a question (as arguments or on stdin)")
    return [Step("user", question, 1)]


def _checked_options(config: Config, args: argparse.Namespace) -> Sampling:
    """The sampling the options ask for, every option checked before a model loads (a typo is
    told at once, not after the wait); a UsageError for a bad one."""
    _, model = config.model(args.model)
    actions = Registry.from_config(config.actions).actions
    for name in [*args.allow_irreversible, *config.actions.allow_irreversible]:
        if name not in actions:  # a typo would leave the action asking, unnoticed
            known = ", ".join(actions) or "none: actions are off"
            raise UsageError(
                f"--allow-irreversible {name}: no such action{did_you_mean(name, actions)} (the actions: {known})"
            )
    if args.prompt:
        check_preset(args.prompt, presets_of(config))
    params = model.sampling
    for setting in [*args.settings, *([f"seed={args.seed}"] if args.seed is not None else [])]:
        name, sep, value = setting.partition("=")
        if not sep:
            raise UsageError(f"--set expects NAME=VALUE (got {setting!r})")
        params = params.with_value(name.strip(), value)
    return params


def _apply_options(session: Session, args: argparse.Namespace, params: Sampling) -> None:
    session.logprobs = args.logprobs
    if args.prompt:
        session.use_prompt(args.prompt)
    if args.system is not None:  # "" asks for no system prompt
        session.set_system(args.system)
    session.params = params
