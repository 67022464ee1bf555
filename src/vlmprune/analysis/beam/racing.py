"""Racing a beam step: each candidate is evaluated on only as many samples as its decision needs.

A step's candidates are evaluated look by look on the N selected samples in one random order
(the racing order, ``vlmprune.engine.orders``), the same for all, so that after n samples any
two candidates a and b hold n paired scores drawn without replacement from the N. Their paired
differences d = s_a - s_b lie in [-1, 1] and average, over all N, to Delta(a, b): the difference
of their accuracies on every sample.

**The test.** :func:`certified_below` tests H0: Delta(a, b) >= t by betting against it, the
without-replacement form of the betting confidence sequences of Waudby-Smith and Ramdas
("Estimating means of bounded random variables by betting", JRSS-B 86(1), 2024, arXiv:2010.09686,
sections 4 and 6; "Confidence sequences for sampling without replacement", NeurIPS 2020). With
y_i = (d_i + 1) / 2 in [0, 1] and m = (t + 1) / 2, under Delta = t the i-th draw has conditional
mean m_i = (N m - y_1 - ... - y_(i-1)) / (N - i + 1), and the capital
K_n(m) = prod_i (1 + lambda_i (m_i - y_i)) is a nonnegative martingale for any bet lambda_i in
[0, c / (1 - m_i)] chosen from the draws before i (here the approximate growth-rate adaptive bet,
aGRAPA, of the first paper, truncated at c = :data:`BET_CAP`). By Ville's inequality K ever
reaches 1/alpha with probability at most alpha: the test may be read after every look, however
many there are, and once it rejects, Delta(a, b) < t is *certified*. One bet sequence per ordered
pair, sized for t = +epsilon and capped for t = -epsilon, serves both thresholds: K_n(m) grows
with m, so under the true Delta >= t the capital at t stays below the capital at the true Delta,
itself a nonnegative supermartingale.

**The race.** With w the beam width, epsilon and delta the settings, after each look:

- a candidate c is dropped once at least w other remaining candidates b are certified better by
  more than epsilon (Delta(c, b) < -epsilon), worst candidates first;
- the step is decided once every remaining candidate outside the current w best (by accuracy on
  the n samples, ties as in ``search.rank``) is certified less than epsilon better than each of
  them (Delta(c, k) < epsilon); at N samples the step is decided exactly.

**The guarantee.** Let T be w candidates with the best accuracies on all N. If no test of a pair
(t, x) with t in T rejects falsely, then (i) t is never dropped, since fewer than w candidates are
better than t at all, and (ii) at the end no kept set k can have Delta(t, k) >= epsilon for a t
left outside, since t was either kept or remained and was certified otherwise. So every kept set's
accuracy on all N is within epsilon of the w-th best. Those pairs are w (C - 1) for C candidates,
each tested at level alpha = delta / (w (C - 1)): by the union bound the guarantee holds with
probability at least 1 - delta per step, whatever the number of looks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlmprune.analysis.beam.search import Blocks, rank

#: c: the bet stays below c / (1 - m_i), so one draw loses at most this fraction of the capital.
BET_CAP = 0.75
#: Above this a conditional mean is out of reach (1 up to rounding): H0 is refuted outright.
_CERTAIN = 1e-12


@dataclass(frozen=True)
class RacingSettings:
    """``beam.racing``: the tolerance, the error probability per step, the first look."""

    epsilon: float
    delta: float
    min_samples: int

    @classmethod
    def from_config(cls, racing: Mapping[str, Any] | bool | None) -> RacingSettings | None:
        """The settings of the config's ``beam.racing`` (None when it is ``false``)."""
        if not racing:
            return None
        return cls(float(racing["epsilon"]), float(racing["delta"]), int(racing["min_samples"]))


def looks(population: int, min_samples: int, chunk_size: int) -> list[int]:
    """Sample counts after which the race looks: ``min_samples``, then every further
    max(min_samples, n / 8) samples (at most ``chunk_size``), and N."""
    points = [min(population, max(1, min_samples))]
    while points[-1] < population:
        n = points[-1]
        step = min(chunk_size, max(min_samples, math.ceil(n / 8)))
        points.append(min(population, n + step))
    return points


def level_per_test(delta: float, beam_width: int, candidates: int) -> float:
    """Level alpha of each pair's test: delta shared by the pairs that start with a w-best set."""
    return delta / (beam_width * max(1, candidates - 1))


def log_capital(
    y: np.ndarray,
    population: int,
    mean: np.ndarray | float,
    bet_on: np.ndarray | float | None = None,
    floor: np.ndarray | float | None = None,
) -> np.ndarray:
    """log K_n, n = 1..len, of betting against H0: the population mean of ``y`` is at least
    ``mean``.

    ``y`` (..., n) in [0, 1] are the first n draws without replacement from ``population``
    values; ``mean``, ``bet_on`` and ``floor`` broadcast against ``y[..., 0]``. The bets are sized
    for H0 at ``bet_on`` and capped for H0 at ``floor`` (both default to ``mean``): one bet
    sequence then serves every ``mean`` at or above ``floor``, the capital at a larger mean being
    larger. +inf once H0 is impossible.
    """
    y = np.asarray(y, dtype=np.float64)
    i = np.arange(1, y.shape[-1] + 1, dtype=np.float64)
    total = np.cumsum(y, axis=-1)
    before = total - y

    def conditional(value: np.ndarray | float) -> np.ndarray:
        """The conditional mean of draw i when the population mean is ``value``."""
        return (population * np.asarray(value, dtype=np.float64)[..., None] - before) / (
            population - i + 1
        )

    m = conditional(mean)
    sized, lowest = (
        conditional(mean if bet_on is None else bet_on),
        conditional(mean if floor is None else floor),
    )
    # Estimates from the draws before i (Waudby-Smith and Ramdas' regularised running moments).
    mu = (0.5 + before) / i
    running = (0.5 + total) / (i + 1)
    squares = (y - running) ** 2
    variance = (0.25 + np.cumsum(squares, axis=-1) - squares) / i
    gap = sized - mu
    bet = np.clip(gap / (variance + gap**2), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        bet = np.where(lowest < 1, np.minimum(bet, BET_CAP / (1 - lowest)), 0.0)
        step = np.log1p(bet * (m - y))
    refuted = (m > 1 + _CERTAIN) | ((m >= 1 - _CERTAIN) & (y < 1 - _CERTAIN))
    return np.cumsum(np.where(refuted, np.inf, step), axis=-1)


def certified_below(
    differences: np.ndarray, population: int, thresholds: Sequence[float], alpha: float
) -> np.ndarray:
    """Whether, after each of the n paired differences (..., n) in [-1, 1], H0: their population
    mean is at least t is rejected at level ``alpha``, for each threshold t: (..., T, n).

    One bet sequence per pair, sized for the largest threshold, serves all of them at once.
    """
    y = (np.asarray(differences, dtype=np.float64)[..., None, :] + 1.0) / 2.0
    means = (np.asarray(thresholds, dtype=np.float64) + 1.0) / 2.0
    capital = log_capital(y, population, means, bet_on=means.max(), floor=means.min())
    return np.maximum.accumulate(capital, axis=-1) >= math.log(1.0 / alpha)


def accuracy_interval(scores: np.ndarray, population: int, alpha: float) -> tuple[float, float]:
    """An anytime-valid interval, at level 1 - ``alpha``, of the mean over the whole population
    of scores in [0, 1], from the first n of them (exact at n = N); grid of 1/1000."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) >= population:
        mean = float(scores.mean())
        return mean, mean
    if not len(scores):
        return 0.0, 1.0
    grid = np.linspace(0.0, 1.0, 1001)
    capital = np.maximum.accumulate
    high = capital(log_capital(scores[None, :], population, grid), axis=-1)[:, -1]
    low = capital(log_capital(1.0 - scores[None, :], population, 1.0 - grid), axis=-1)[:, -1]
    # each grid point has its own bets: the interval is the points neither side rejects
    kept = grid[(high < math.log(2 / alpha)) & (low < math.log(2 / alpha))]
    if not len(kept):  # every grid point rejected: the interval lies between two of them
        mean = float(scores.mean())
        return mean, mean
    return float(kept.min()), float(kept.max())


def pair_certificates(
    scores: np.ndarray, population: int, thresholds: Sequence[float], alpha: float
) -> np.ndarray:
    """For scores (..., C, n) of C candidates in the racing order: whether Delta(a, b) < t is
    certified after each of the n samples, per ordered pair and threshold: (..., C, C, T, n)."""
    scores = np.asarray(scores, dtype=np.float64)
    differences = scores[..., :, None, :] - scores[..., None, :, :]
    return certified_below(differences, population, thresholds, alpha)


@dataclass
class Race:
    """One step's race: feed it each look's scores with :meth:`look` until ``kept`` is set."""

    candidates: list[Blocks]
    beam_width: int
    population: int
    settings: RacingSettings
    alive: list[Blocks] = field(init=False)
    dropped: dict[Blocks, tuple[int, list[Blocks]]] = field(init=False, default_factory=dict)
    kept: list[Blocks] | None = field(init=False, default=None)
    decided_at: int | None = field(init=False, default=None)
    alpha: float = field(init=False)

    def __post_init__(self) -> None:
        self.candidates = list(self.candidates)
        self.alive = list(self.candidates)
        eps = self.settings.epsilon
        self.alpha = level_per_test(self.settings.delta, self.beam_width, len(self.candidates))
        self.thresholds = sorted({-eps, eps})

    def look(self, n: int, scores: Mapping[Blocks, np.ndarray]) -> list[Blocks]:
        """After ``n`` samples (each remaining candidate's first n scores in the racing order;
        ``scores`` may hold more): drop whom the tests allow, decide if they can. Returns those
        dropped now."""
        n = min(n, self.population)
        prefix = np.zeros((len(self.candidates), n))
        for c in self.alive:
            values = np.asarray(scores[c][:n], dtype=np.float64)
            if len(values) < n:
                raise ValueError(f"candidate {c} holds {len(values)} scores, fewer than {n}")
            prefix[self.candidates.index(c)] = values
        if np.isnan(prefix).any():
            raise ValueError(
                "racing needs per-sample scores; these are NaN (a corpus-level metric)"
            )
        alive = [self.candidates.index(c) for c in self.alive]
        below = np.zeros((len(self.candidates),) * 2 + (len(self.thresholds),), dtype=bool)
        if n < self.population and len(alive) > 1:
            index = np.ix_(alive, alive)
            below[index] = pair_certificates(
                prefix[alive], self.population, self.thresholds, self.alpha
            )[..., -1]
        means = np.cumsum(prefix, axis=1)[:, -1] / n  # as replay computes them
        return self.decide(n, means, below)

    def decide(self, n: int, means: np.ndarray, below: np.ndarray) -> list[Blocks]:
        """One look from the candidates' accuracies on the first n samples (in candidate order) and
        the certificates (C, C, T) at n: drop, then decide when the tests allow. Returns those
        dropped now."""
        if self.kept is not None:
            raise RuntimeError("the race is decided; it takes no more looks")
        index = {c: i for i, c in enumerate(self.candidates)}
        accuracy = {c: float(means[index[c]]) for c in self.alive}
        if n >= self.population:
            self.kept, self.decided_at = rank(accuracy)[: self.beam_width], n
            return []
        worse, better = (
            self.thresholds.index(-self.settings.epsilon),
            self.thresholds.index(self.settings.epsilon),
        )
        now = []
        for c in reversed(rank(accuracy)):
            above = [b for b in self.alive if b != c and below[index[c], index[b], worse]]
            if len(above) >= self.beam_width:
                self.alive.remove(c)
                self.dropped[c] = (n, sorted(above))
                now.append(c)
        best = rank({c: accuracy[c] for c in self.alive})[: self.beam_width]
        outside = [index[c] for c in self.alive if c not in best]
        if below[np.ix_(outside, [index[k] for k in best], [better])].all():
            self.kept, self.decided_at = best, n
        return now

    def samples(self, candidate: Blocks) -> int:
        """How many samples the race used of ``candidate``: up to its drop, or to the decision."""
        if candidate in self.dropped:
            return self.dropped[candidate][0]
        if self.decided_at is None:
            raise RuntimeError("the race is not decided yet")
        return self.decided_at


def replay(
    scores: Mapping[Blocks, np.ndarray],
    beam_width: int,
    settings: RacingSettings,
    points: Sequence[int],
) -> Race:
    """The race on scores known in advance (each candidate's N scores in the racing order): the
    decisions a real race makes on the same scores, which depend on nothing else. Each pair's
    test is computed once over all samples and read at every look."""
    matrix = np.stack([np.asarray(v, dtype=np.float64) for v in scores.values()])
    population = matrix.shape[1]
    race = Race(list(scores), beam_width, population, settings)
    certificates = pair_certificates(
        matrix[:, : population - 1], population, race.thresholds, race.alpha
    )
    means = np.cumsum(matrix, axis=1) / np.arange(1, population + 1)
    for n in points:
        n = min(n, population)
        race.decide(n, means[:, n - 1], certificates[..., n - 1] if n < population else None)
        if race.kept is not None:
            break
    return race


@dataclass
class RacedStep:
    """What a raced step did: the race, and per set the rows its store held before and after."""

    race: Race
    looks: list[int]
    rows_before: dict[Blocks, int]
    rows_after: dict[Blocks, int]
    extended: list[Blocks]

    @property
    def evaluated(self) -> dict[Blocks, int]:
        """Samples the engine evaluated here, per set that it evaluated at all."""
        return {
            b: self.rows_after[b] - self.rows_before[b]
            for b in self.rows_after
            if self.rows_after[b] > self.rows_before[b]
        }
