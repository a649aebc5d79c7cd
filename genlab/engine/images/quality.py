"""Sample quality against a small classifier trained once per labelled data set.

(a) the Fréchet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule
converge to a local Nash equilibrium", eq. 6; FID with our own small CNN instead of
Inception) between Gaussians fitted to penultimate-layer features of generated samples and
of held-out images, beside its floor: the same distance between held-out and training
images, as many training images as samples (so both carry the same small-sample bias);
(b) the fraction of samples asked for class c that the classifier puts in class c.

The classifier is trained deterministically (fixed seed, CPU, fixed epochs) on the training
split and cached on disk: ``<cache>/classifiers/<name>.safetensors`` (weights) beside a JSON
file with the data set's name, shape, classes and a hash of the training images; an entry
that does not match, or does not load, is trained again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = 1  # bump when the net or its training changes: old cache entries are retrained
SEED = 0
MAX_TRAIN = 16384  # a lazily drawn set (sprites) is learnt from this many fixed images
TRAIN_STEPS = 300  # Adam steps, and at least EPOCHS passes over the training images
EPOCHS = 4
LR = 3e-3
BATCH = 64
FEATURES = 64  # width of the penultimate layer (the features the distance is taken on)


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where classifiers are kept: ``cache_dir``, else $GENLAB_CACHE, else ~/.cache/genlab."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("GENLAB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "genlab"


class ClassifierNet(nn.Module):
    """Two 3×3 conv layers (16, 32 channels, ReLU, max-pooling), a 64-wide penultimate layer
    and a linear read-out: (n, C, H, W) -> (features (n, 64), logits (n, k)).  Images of 16
    pixels and more are pooled once more after the first conv; every size ends at 4×4."""

    def __init__(self, shape: tuple[int, int, int], n_classes: int) -> None:
        super().__init__()
        c, h, _ = shape
        pool1: nn.Module = nn.MaxPool2d(2) if h >= 16 else nn.Identity()
        self.body = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), pool1,
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(32 * 16, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


class Classifier:
    """A trained ``ClassifierNet`` for one data set (CPU, eval mode).

    ``from_cache_`` says whether it was read from disk (True) or trained by this call;
    ``train_seconds_`` is how long the training took when it was trained."""

    def __init__(self, name: str, shape: tuple[int, int, int], class_names: tuple[str, ...],
                 net: ClassifierNet, from_cache: bool, train_seconds: float) -> None:
        self.name, self.shape, self.class_names = name, tuple(shape), tuple(class_names)
        self.n_classes = len(class_names)
        self.net = net.eval()
        self.from_cache_ = from_cache
        self.train_seconds_ = train_seconds
        self._memo: dict[tuple[int, int, int], tuple[Any, np.ndarray, np.ndarray, np.ndarray]] = {}

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float32)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"images must be (n, {', '.join(map(str, self.shape))}) for the "
                             f"'{self.name}' classifier, got {x.shape}")
        feats, logits = [], []
        with torch.no_grad():
            for i in range(0, len(x), 512):
                f, lg = self.net(torch.from_numpy(np.ascontiguousarray(x[i:i + 512])))
                feats.append(f.numpy())
                logits.append(lg.numpy())
        if not feats:
            return np.zeros((0, FEATURES), np.float32), np.zeros((0, self.n_classes), np.float32)
        return np.concatenate(feats), np.concatenate(logits)

    def features(self, x: np.ndarray) -> np.ndarray:
        """(n, C, H, W) in [−1, 1] -> (n, 64) float32 penultimate-layer features."""
        return self._run(x)[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, C, H, W) in [−1, 1] -> (n,) int64 most likely class."""
        return self._run(x)[1].argmax(axis=1).astype(np.int64)

    def reference(self, data: Any, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
        """Features, predictions and labels of a fixed subset of ``n`` images of ``data`` (all
        of them when it has no more), remembered for the next call with the same set."""
        key = (id(data), int(n), int(seed))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is data:
            return hit[1], hit[2], hit[3]
        idx = _subset(len(data), n, seed)
        x, y = data.get(idx)
        f, logits = self._run(x)
        out = (f, logits.argmax(axis=1).astype(np.int64), np.asarray(y, np.int64))
        self._memo[key] = (data, *out)
        return out


def _subset(n_all: int, n: int, seed: int) -> np.ndarray:
    """Sorted fixed subset of min(n, n_all) indices of range(n_all)."""
    if n >= n_all:
        return np.arange(n_all)
    return np.sort(np.random.default_rng([seed, 0xFD]).choice(n_all, size=n, replace=False))


def fingerprint(data: Any) -> str:
    """sha256 of a set's training images: every image and label of an in-memory set; for a
    lazily drawn one, its size, its index array and a fixed probe of 256 drawn images (so
    that a change in how sprites are drawn shows)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(data.name), len(data), list(data.shape)]).encode())
    x, y = getattr(data, "x", None), getattr(data, "y", None)
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        h.update(np.ascontiguousarray(x, np.float32).tobytes())
        h.update(np.ascontiguousarray(y, np.int64).tobytes())
        return h.hexdigest()
    index = getattr(data, "index_", None)
    if isinstance(index, np.ndarray):
        h.update(np.ascontiguousarray(index).tobytes())
    px, py = data.get(_subset(len(data), 256, 7))
    h.update(np.ascontiguousarray(px, np.float32).tobytes())
    h.update(np.ascontiguousarray(py, np.int64).tobytes())
    return h.hexdigest()


def train_classifier(train: Any, steps: int | None = None, seed: int = SEED) -> ClassifierNet:
    """Train a ``ClassifierNet`` on (at most MAX_TRAIN fixed images of) ``train``: Adam
    (lr LR, cosine decay), cross-entropy, shuffled epochs of BATCH images; on the CPU and
    deterministic for a seed (torch's global RNG is left as it was)."""
    idx = _subset(len(train), MAX_TRAIN, seed)
    parts = [train.get(idx[i:i + 1024]) for i in range(0, len(idx), 1024)]  # cache-sized
    x = torch.from_numpy(np.concatenate([np.asarray(p[0], np.float32) for p in parts]))
    y = torch.from_numpy(np.concatenate([np.asarray(p[1], np.int64) for p in parts]))
    steps = max(TRAIN_STEPS if steps is None else int(steps), EPOCHS * -(-len(x) // BATCH))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ClassifierNet(tuple(int(s) for s in train.shape), int(train.n_classes))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rng = np.random.default_rng([seed, 0xC1])
    order: np.ndarray = np.zeros(0, np.int64)
    net.train()
    for _ in range(steps):
        if len(order) < BATCH:
            order = np.concatenate([order, rng.permutation(len(x))])
        b, order = torch.from_numpy(order[:BATCH]), order[BATCH:]
        loss = nn.functional.cross_entropy(net(x[b])[1], y[b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def _paths(root: Path, name: str) -> tuple[Path, Path]:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[-40:] or "data"
    tag = hashlib.sha1(name.encode()).hexdigest()[:10]
    base = root / "classifiers" / f"{slug}-{tag}"
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def _meta(name: str, train: Any, data_hash: str) -> dict[str, Any]:
    return {"format": FORMAT, "name": name, "shape": [int(s) for s in train.shape],
            "class_names": [str(c) for c in train.class_names], "data_hash": data_hash,
            "steps": TRAIN_STEPS, "epochs": EPOCHS, "lr": LR, "max_train": MAX_TRAIN,
            "seed": SEED}


def _load(weights: Path, meta_path: Path, want: dict[str, Any], net: ClassifierNet) -> bool:
    """Load a cache entry into ``net``; False when it is missing, foreign or damaged."""
    from safetensors.torch import load_file

    try:
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} != want:
            return False
        if hashlib.sha256(weights.read_bytes()).hexdigest() != meta.get("weights_sha256"):
            return False
        net.load_state_dict(load_file(weights), strict=True)
    except Exception:  # missing, truncated, garbage: train again
        return False
    return True


def classifier_for(data_name: str, train: Any, cache_dir: str | Path | None = None
                   ) -> Classifier:
    """The classifier of a labelled data set: read from the cache when an entry for this name,
    shape, classes and training images is there, else trained on ``train`` (a few seconds for
    digits on one thread) and written there (ValueError for a set without labels)."""
    if int(train.n_classes) < 2:
        raise ValueError(f"'{data_name}' has {int(train.n_classes)} classes: the quality "
                         "classifier needs labelled images of 2 classes or more")
    from safetensors.torch import save_file

    shape = tuple(int(s) for s in train.shape)
    want = _meta(data_name, train, fingerprint(train))
    weights, meta_path = _paths(cache_root(cache_dir), data_name)
    with torch.random.fork_rng(devices=[]):
        net = ClassifierNet(shape, int(train.n_classes))
    if _load(weights, meta_path, want, net):
        return Classifier(data_name, shape, tuple(want["class_names"]), net, True, 0.0)
    t0 = time.perf_counter()
    net = train_classifier(train)
    seconds = time.perf_counter() - t0
    try:  # write beside, then rename: a reader never sees half an entry
        weights.parent.mkdir(parents=True, exist_ok=True)
        tmp = weights.with_suffix(".tmp")
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        os.replace(tmp, weights)
        meta = {**want, "weights_sha256": digest, "train_seconds": round(seconds, 3)}
        tmp_meta = meta_path.with_suffix(".jtmp")
        tmp_meta.write_text(json.dumps(meta, indent=1))
        os.replace(tmp_meta, meta_path)
    except OSError:  # a read-only cache: the classifier still works, it is just not kept
        pass
    return Classifier(data_name, shape, tuple(want["class_names"]), net, False, seconds)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n1, k) and (n2, k):
    |μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)   (Heusel et al. 2017; Dowson & Landau 1982).

    tr (Σ1 Σ2)^½ is taken as Σ √λ over the eigenvalues of the symmetric Σ1^½ Σ2 Σ1^½ (the
    same matrix up to similarity), with round-off negatives set to 0: unlike
    ``scipy.linalg.sqrtm(Σ1 @ Σ2)`` this stays real and exact for the singular covariances
    of fewer samples than features."""
    a, b = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (n1, k) and (n2, k), got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least 2 feature vectors on each side")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("features contain NaN or infinite values")
    mu = a.mean(axis=0) - b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False).reshape(a.shape[1], -1), np.cov(b, rowvar=False)
    s2 = s2.reshape(s1.shape)
    w, v = np.linalg.eigh(s1)
    s1h = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = s1h @ s2 @ s1h
    tr_mean = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)).sum())
    fd = float(mu @ mu + np.trace(s1) + np.trace(s2) - 2.0 * tr_mean)
    return max(fd, 0.0)


def quality(samples: np.ndarray, labels: np.ndarray | None, classifier: Classifier,
            held_out: Any, train: Any, n_ref: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Quality of generated images (n, C, H, W) in [−1, 1] (n ≥ 2).

    Returns {"fd": FD(samples, held-out), "floor": FD(n training images, held-out),
    "accuracy": fraction of samples classified as ``labels`` (None without labels),
    "held_accuracy": the classifier's accuracy on the held-out images, "n", "n_ref"}; the
    held-out side is a fixed subset of ``n_ref`` images (all of them when fewer), and its
    features and the training subset's are remembered by the classifier."""
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 4 or len(samples) < 2:
        raise ValueError(f"samples must be (n ≥ 2, C, H, W), got {samples.shape}")
    n = len(samples)
    f_ref, p_ref, y_ref = classifier.reference(held_out, n_ref, seed)
    f_train = classifier.reference(train, n, seed + 1)[0]
    f_s, logits = classifier._run(samples)
    acc = None
    if labels is not None:
        lab = np.broadcast_to(np.asarray(labels, np.int64), (n,))
        acc = float(np.mean(logits.argmax(axis=1) == lab))
    return {"fd": frechet_distance(f_s, f_ref), "floor": frechet_distance(f_train, f_ref),
            "accuracy": acc, "held_accuracy": float(np.mean(p_ref == y_ref)), "n": n,
            "n_ref": len(f_ref)}
