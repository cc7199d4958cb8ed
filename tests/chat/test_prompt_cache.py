"""The prompt cache's files (chat/prompt_cache.py): written whole, read back only when intact,
the newest kept. The real model's use of them is in tests/test_integration.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chat import prompt_cache
from chat.prompt_cache import KEEP, MAGIC, PromptCache, identity

START = list(range(100, 140))


def test_a_saved_state_is_read_back_with_its_tokens(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path / "prompts")
    owner = identity(model="m.gguf", n_ctx=2048)
    assert cache.load(owner, START) is None
    cache.save(owner, START, b"\x01\x02" * 1000)
    assert cache.load(owner, START) == b"\x01\x02" * 1000
    assert cache.path(owner, START).stat().st_mode & 0o777 == 0o600  # a system prompt can be private
    assert cache.load(identity(model="m.gguf", n_ctx=4096), START) is None  # another window: another file
    assert cache.load(owner, [*START[:-1], 0]) is None  # another start
    assert [p.name for p in (tmp_path / "prompts").iterdir()] == [cache.path(owner, START).name]  # no temporary left


def test_a_damaged_file_is_ignored(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path)
    cache.save("o", START, b"state" * 100)
    path = cache.path("o", START)
    whole = path.read_bytes()
    for damaged in (whole[:-1], b"NOT-PARLEY" + whole[len(MAGIC) :], whole[: len(MAGIC) + 2], b""):
        path.write_bytes(damaged)
        assert cache.load("o", START) is None
    path.write_bytes(whole.replace(b"[100, 101", b"[999, 101"))  # tokens that are not the start's
    assert cache.load("o", START) is None


def test_only_the_newest_files_are_kept(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path)
    for n in range(KEEP + 3):
        start = [n, *START]
        cache.save("o", start, b"x")
        os.utime(cache.path("o", start), ns=(n * 10**9, n * 10**9))
    cache.save("o", START, b"y")
    kept = sorted(tmp_path.glob("*.kv"))
    assert len(kept) == KEEP and cache.load("o", START) is not None
    assert cache.load("o", [0, *START]) is None  # the oldest went


def test_the_kept_files_stay_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_cache, "BUDGET", 2500)
    cache = PromptCache(tmp_path)
    for n in range(4):  # 1,000 bytes of state each, the newest last
        cache.save("o", [n, *START], b"s" * 1000)
        os.utime(cache.path("o", [n, *START]), ns=(n * 10**9, n * 10**9))
    assert [cache.load("o", [n, *START]) is not None for n in range(4)] == [False, False, True, True]
    cache.save("o", START, b"s" * 5000)  # alone over the budget: still kept, being the newest
    assert [p.name for p in tmp_path.glob("*.kv")] == [cache.path("o", START).name]


def test_a_folder_that_cannot_be_written_leaves_no_file_and_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    cache = PromptCache(blocked / "prompts")
    cache.save("o", START, b"state")
    assert cache.load("o", START) is None
