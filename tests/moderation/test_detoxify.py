"""The real Detoxify code path, offline, with a tiny random checkpoint built here.

This proves the plumbing (loading through detoxify's own loader, per-sentence scoring, label
mapping), not the quality: the weights are random, so the scores mean nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.config import DetoxifyConfig, ModerationConfig
from moderation.filter import Moderator

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

DETOXIFY_CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
WORDS = ["you", "are", "a", "nice", "idiot", "person", "have", "day", "good", "bad", "i", "will", "hurt"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny-bert")
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]) + "\n")
    config = transformers.BertConfig(
        vocab_size=len(WORDS) + 6, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=len(DETOXIFY_CLASSES),
    )  # fmt: skip
    config.save_pretrained(folder)
    transformers.BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    checkpoint = {
        # detoxify reads config.from_pretrained(model_type) first, so model_type is the local folder
        "config": {
            "arch": {
                "args": {
                    "model_type": str(folder),
                    "model_name": "BertForSequenceClassification",
                    "tokenizer_name": "BertTokenizer",
                    "num_classes": len(DETOXIFY_CLASSES),
                }
            },
            "dataset": {"args": {"classes": DETOXIFY_CLASSES}},
        },  # fmt: skip
        "state_dict": model.state_dict(),
    }
    path = folder / "tiny.ckpt"
    torch.save(checkpoint, path)
    return path, folder


def test_detoxify_backend_loads_and_maps_labels(tiny_checkpoint: tuple[Path, Path]) -> None:
    from moderation.detox import DetoxifyBackend

    path, folder = tiny_checkpoint
    backend = DetoxifyBackend(DetoxifyConfig(checkpoint=path, config_dir=folder))
    rows = backend.score(["you are a nice person.", "i will hurt you."])
    assert len(rows) == 2
    expected = {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
    assert all(set(row) == expected for row in rows)
    assert all(0.0 <= v <= 1.0 for row in rows for v in row.values())
    assert rows[0] != rows[1]  # the model really ran on each text


def test_moderator_scores_each_sentence_and_keeps_the_maximum(tiny_checkpoint: tuple[Path, Path]) -> None:
    from moderation.detox import DetoxifyBackend

    path, folder = tiny_checkpoint
    config = ModerationConfig(backend="detoxify", detoxify=DetoxifyConfig(checkpoint=path, config_dir=folder))
    moderator = Moderator(config)
    backend = DetoxifyBackend(config.detoxify)
    first, second = backend.score(["you are a nice person.", "i will hurt you."])
    verdict = moderator.check("you are a nice person. i will hurt you.")
    assert verdict.backend == "detoxify (original)"
    for category in first:
        assert verdict.scores[category] == pytest.approx(max(first[category], second[category]), abs=1e-5)


def test_missing_weights_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moderation.backends import BackendError
    from moderation.detox import DetoxifyBackend
    from moderation.filter import make_backend

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(BackendError, match="parley moderation download original"):
        DetoxifyBackend(DetoxifyConfig())
    assert make_backend(ModerationConfig(backend="auto")).name == "contextual"  # auto falls back


def test_release_files_match_detoxify() -> None:
    import detoxify.detoxify as upstream

    from moderation.detox import CHECKPOINTS, RELEASES

    assert {k: RELEASES + v for k, v in CHECKPOINTS.items()} == upstream.MODEL_URLS


def test_download_then_load_offline(tmp_path: Path, tiny_checkpoint: tuple[Path, Path]) -> None:
    """`parley moderation download` against a local mirror, then Detoxify loads from the caches
    with no server at all. The checkpoint names `bert-base-uncased`, as the real one does."""
    import os
    import subprocess
    import sys

    from moderation.detox import CHECKPOINTS
    from tests.conftest import ROOT
    from tests.hub_server import Handler, serve

    path, folder = tiny_checkpoint
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["config"]["arch"]["args"]["model_type"] = "bert-base-uncased"
    mirrored = tmp_path / "mirrored.ckpt"
    torch.save(checkpoint, mirrored)
    files = {f"/releases/{CHECKPOINTS['original']}": mirrored.read_bytes()}
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        files[f"/bert-base-uncased/resolve/main/{name}"] = (folder / name).read_bytes()
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    with serve(files) as url:
        env.update(HF_ENDPOINT=url, DETOXIFY_RELEASES=f"{url}/releases/")
        fetched = subprocess.run([sys.executable, "-m", "chat", "moderation", "download", "original"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
        assert any(r.startswith("GET /releases/") for r in Handler.requests)
    assert (tmp_path / "torch" / "hub" / "checkpoints" / Path(CHECKPOINTS["original"]).name).is_file()
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there: the load must be offline
    result = subprocess.run([sys.executable, "-m", "chat", "moderate", "--backend", "detoxify", "--json"],
                            input="you are a nice person.\n", cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    row = __import__("json").loads(result.stdout)
    assert row["backend"] == "detoxify (original)" and row["error"] is None
    assert set(row["scores"]) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
