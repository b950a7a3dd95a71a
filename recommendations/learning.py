"""The local recommender's learning, in plain numpy/scipy (no Django): an item-item model from
implicit feedback, the popularity baseline it must beat, and the offline evaluation that says so.

Interactions are (user, item, time, kind). Kinds weigh what a viewer's action says about them: a
click says little, a purchase most; an impression (the card was on screen) says nothing about the
viewer's taste and is not learned from. The model is item-based collaborative filtering: items
are similar when the same people chose both (cosine of their columns in the user x item matrix,
shrunk towards 0 for items few people chose), each item keeps its ``top_k`` neighbours, and a
viewer's recommendations sum the neighbours of what they chose."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

# What each kind of interaction says (0: not learned from). Personalize's EVENT_TYPE values.
WEIGHTS = {
    "impression": 0.0,
    "offer_shown": 0.0,
    "view": 1.0,
    "click": 1.0,
    "offer_taken": 2.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
}
KINDS = tuple(WEIGHTS)
# A pair chosen together by few people is mostly chance: similarity * n / (n + SHRINK).
SHRINK = 5.0


@dataclass(frozen=True, slots=True)
class Interaction:
    user: str
    item: str
    at: float  # Unix time, seconds
    kind: str


@dataclass
class Model:
    """What serving needs: each item's related items (best first, with scores) and the items by
    popularity (the cold-start answer). Plain lists and dicts: JSON-able, cached per brand."""

    neighbours: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    popular: list[str] = field(default_factory=list)
    interactions: int = 0

    def related(self, item: str, n: int = 10, *, exclude: Iterable[str] = ()) -> list[str]:
        """Items related to ``item``; popular ones fill up when it has too few (cold start)."""
        skip = {item, *exclude}
        chosen = [other for other, _ in self.neighbours.get(item, ()) if other not in skip][:n]
        return _fill(chosen, self.popular, n, skip)

    def for_user(self, history: Sequence[tuple[str, float]], n: int = 10, *, exclude=()) -> list[str]:
        """Items for someone who chose ``history`` ((item, weight) pairs), none of those again."""
        seen = {item for item, _ in history} | set(exclude)
        scores: dict[str, float] = {}
        for item, weight in history:
            for other, similarity in self.neighbours.get(item, ()):
                if other not in seen:
                    scores[other] = scores.get(other, 0.0) + weight * similarity
        chosen = sorted(scores, key=lambda item: (-scores[item], item))[:n]
        return _fill(chosen, self.popular, n, seen)

    def to_json(self) -> dict:
        return {
            "neighbours": {
                item: [[o, round(s, 6)] for o, s in pairs] for item, pairs in self.neighbours.items()
            },
            "popular": self.popular,
            "interactions": self.interactions,
        }

    @classmethod
    def from_json(cls, data: dict) -> Model:
        neighbours = {
            item: [(o, float(s)) for o, s in pairs] for item, pairs in data.get("neighbours", {}).items()
        }
        return cls(neighbours, list(data.get("popular", [])), int(data.get("interactions", 0)))


def _fill(chosen: list[str], popular: list[str], n: int, skip: set[str]) -> list[str]:
    if len(chosen) >= n:
        return chosen
    taken = set(chosen) | skip
    for item in popular:
        if len(chosen) >= n:
            break
        if item not in taken:
            chosen.append(item)
            taken.add(item)
    return chosen


@dataclass
class Matrix:
    """Interactions as a user x item matrix of summed weights (log-damped: the tenth click on the
    same product says little more than the second)."""

    users: list[str]
    items: list[str]
    values: sparse.csr_matrix

    @classmethod
    def build(cls, interactions: Iterable[Interaction]) -> Matrix:
        users: dict[str, int] = {}
        items: dict[str, int] = {}
        rows, cols, weights = [], [], []
        for interaction in interactions:
            weight = WEIGHTS.get(interaction.kind, 0.0)
            if weight <= 0:
                continue
            rows.append(users.setdefault(interaction.user, len(users)))
            cols.append(items.setdefault(interaction.item, len(items)))
            weights.append(weight)
        values = sparse.coo_matrix(
            (np.asarray(weights, dtype=np.float32), (np.asarray(rows), np.asarray(cols))),
            shape=(len(users), len(items)),
        ).tocsr()  # duplicates summed
        values.data = np.log1p(values.data)
        return cls(list(users), list(items), values)


def train(
    interactions: Iterable[Interaction],
    *,
    top_k: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> Model:
    """Train the item-item model. ``progress(done, total)`` is told as items are finished."""
    interactions = list(interactions)
    matrix = Matrix.build(interactions)
    model = Model(popular=popularity(matrix), interactions=len(interactions))
    if not matrix.items:
        return model
    values = matrix.values.tocsc()
    binary = values.copy()
    binary.data[:] = 1.0
    norms = np.sqrt(np.asarray(values.multiply(values).sum(axis=0)).ravel())
    co_counts = (binary.T @ binary).tocsr()
    similar = (values.T @ values).tocsr()
    total = len(matrix.items)
    step = max(1, total // 20)
    for index in range(total):
        start, end = similar.indptr[index], similar.indptr[index + 1]
        others = similar.indices[start:end]
        if len(others):
            scores = similar.data[start:end] / (norms[index] * norms[others] + 1e-9)
            together = _row(co_counts, index, others)
            scores = scores * together / (together + SHRINK)
            keep = others != index
            others, scores = others[keep], scores[keep]
            if len(others) > top_k:
                best = np.argpartition(-scores, top_k)[:top_k]
                others, scores = others[best], scores[best]
            order = np.lexsort((others, -scores))
            model.neighbours[matrix.items[index]] = [
                (matrix.items[others[i]], float(scores[i])) for i in order if scores[i] > 0
            ]
        if progress and ((index + 1) % step == 0 or index + 1 == total):
            progress(index + 1, total)
    return model


def _row(matrix: sparse.csr_matrix, index: int, columns: np.ndarray) -> np.ndarray:
    """``matrix[index, columns]`` for a CSR row whose columns are a subset of the row's own."""
    start, end = matrix.indptr[index], matrix.indptr[index + 1]
    lookup = dict(zip(matrix.indices[start:end].tolist(), matrix.data[start:end].tolist(), strict=True))
    return np.asarray([lookup.get(column, 0.0) for column in columns.tolist()], dtype=np.float32)


def popularity(matrix: Matrix) -> list[str]:
    """Items by how many people chose them (ties: by total weight, then id)."""
    if not matrix.items:
        return []
    binary = matrix.values.copy()
    binary.data[:] = 1.0
    people = np.asarray(binary.sum(axis=0)).ravel()
    weight = np.asarray(matrix.values.sum(axis=0)).ravel()
    order = sorted(range(len(matrix.items)), key=lambda i: (-people[i], -weight[i], matrix.items[i]))
    return [matrix.items[i] for i in order]


# Offline evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    ndcg: float
    users: int

    def beats(self, other: Scores) -> bool:
        return self.precision > other.precision and self.recall > other.recall and self.ndcg > other.ndcg


def time_split(interactions: Sequence[Interaction], *, test_share: float = 0.2):
    """Everything before the time at which ``test_share`` of the interactions are left: training;
    the rest: what the model must predict (no look into the future)."""
    ordered = sorted(interactions, key=lambda i: i.at)
    cut = ordered[int(len(ordered) * (1 - test_share))].at if ordered else 0
    return [i for i in ordered if i.at < cut], [i for i in ordered if i.at >= cut]


def evaluate(
    train_set: Sequence[Interaction], test_set: Sequence[Interaction], *, k: int = 10, top_k: int = 20
) -> dict[str, Scores]:
    """precision@k, recall@k and NDCG@k of the item-item model and of popularity, over the users
    who had chosen something before the split and choose something new after it."""
    model = train(train_set, top_k=top_k)
    history: dict[str, dict[str, float]] = {}
    for interaction in train_set:
        weight = WEIGHTS.get(interaction.kind, 0.0)
        if weight > 0:
            items = history.setdefault(interaction.user, {})
            items[interaction.item] = items.get(interaction.item, 0.0) + weight
    relevant: dict[str, set[str]] = {}
    for interaction in test_set:
        seen = history.get(interaction.user)
        if seen and WEIGHTS.get(interaction.kind, 0.0) > 0 and interaction.item not in seen:
            relevant.setdefault(interaction.user, set()).add(interaction.item)
    baseline = Model(popular=model.popular)
    results = {}
    for name, candidate in (("item-item", model), ("popularity", baseline)):
        totals = [0.0, 0.0, 0.0]
        for user, wanted in relevant.items():
            pairs = [(item, math.log1p(weight)) for item, weight in history[user].items()]
            ranked = candidate.for_user(pairs, k)
            for total_index, value in enumerate(_metrics(ranked, wanted, k)):
                totals[total_index] += value
        count = max(1, len(relevant))
        results[name] = Scores(*(value / count for value in totals), users=len(relevant))
    return results


def _metrics(ranked: Sequence[str], wanted: set[str], k: int) -> tuple[float, float, float]:
    hits = [1.0 if item in wanted else 0.0 for item in ranked[:k]]
    dcg = sum(hit / math.log2(rank + 2) for rank, hit in enumerate(hits))
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(wanted), k)))
    return sum(hits) / k, sum(hits) / len(wanted), dcg / ideal if ideal else 0.0
