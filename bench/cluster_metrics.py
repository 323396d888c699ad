"""How close a grouping is to the truth: pairwise precision/recall/F1, adjusted Rand index, and
attack/noise separation for sets labelled per alert (an *attack-led* incident is one at least
half of whose alerts are attack alerts: the incidents an analyst would work as the attack).
Pure; both arguments are one label per alert, in the same order (an incident id for the
grouping, a truth label for the truth).

Pairwise: every pair of alerts put in the same incident is a predicted link; a link is right
when the truth also puts the two together. precision = right links / predicted links, recall =
right links / true links. The adjusted Rand index (Hubert & Arabie 1985) is the Rand index
corrected for chance: 1 for identical partitions, about 0 for a random one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from math import comb


@dataclass(frozen=True)
class Pairwise:
    """Pairwise precision, recall and F1 of a grouping against a truth."""

    precision: float
    recall: float
    f1: float


def _pairs(counts: Counter[Hashable] | Counter[tuple[Hashable, Hashable]]) -> int:
    return sum(comb(n, 2) for n in counts.values())


def pairwise(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> Pairwise:
    """Pairwise scores of `predicted` against `truth` (1.0 where there are no pairs to judge)."""
    if len(predicted) != len(truth):
        raise ValueError("one label per alert in both")
    both = _pairs(Counter(zip(predicted, truth, strict=True)))
    linked = _pairs(Counter(predicted))
    true = _pairs(Counter(truth))
    precision = both / linked if linked else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Pairwise(precision, recall, f1)


def adjusted_rand_index(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """ARI = (index - expected) / (max - expected) over the contingency table."""
    if len(predicted) != len(truth):
        raise ValueError("one label per alert in both")
    n = len(predicted)
    index = _pairs(Counter(zip(predicted, truth, strict=True)))
    rows = _pairs(Counter(predicted))
    cols = _pairs(Counter(truth))
    total = comb(n, 2)
    if total == 0:
        return 1.0
    expected = rows * cols / total
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


@dataclass(frozen=True)
class Separation:
    """How a grouping treats alerts labelled attack (True) or noise (False)."""

    alerts: int
    incidents: int
    attack_incidents: int  # incidents holding at least one attack alert
    attack_share_top3: float  # attack alerts in the 3 incidents holding most of them
    mixed_incidents: int  # incidents holding both
    noise_with_attack: float  # share of noise alerts in an incident that holds attack alerts
    attack_with_noise: float  # share of attack alerts in an incident that holds noise alerts
    attack_led: int  # incidents at least half of whose alerts are attack alerts
    noise_in_attack_led: float  # share of noise alerts in an attack-led incident
    attack_outside_led: float  # share of attack alerts in no attack-led incident
    label_precision: float  # same-incident pairs with the same label / same-incident pairs
    attack_recall: float  # attack pairs in one incident / attack pairs
    f1: float

    @property
    def reduction(self) -> float:
        """Alerts per incident."""
        return 0.0 if not self.incidents else self.alerts / self.incidents


def separation(predicted: Sequence[Hashable], attack: Sequence[bool]) -> Separation:
    """Attack concentration and attack/noise separation of `predicted`."""
    if len(predicted) != len(attack):
        raise ValueError("one label per alert in both")
    per = Counter(zip(predicted, attack, strict=True))
    incidents = set(predicted)
    attack_in = Counter({i: per[(i, True)] for i in incidents if per[(i, True)]})
    noise_in = Counter({i: per[(i, False)] for i in incidents if per[(i, False)]})
    mixed = set(attack_in) & set(noise_in)
    attacks, noise = sum(attack_in.values()), sum(noise_in.values())
    top3 = sum(n for _, n in attack_in.most_common(3))
    led = {i for i, n in attack_in.items() if n >= noise_in[i]}
    same = _pairs(per)
    linked = _pairs(Counter(predicted))
    precision = same / linked if linked else 1.0
    attack_pairs = comb(attacks, 2)
    recall = _pairs(attack_in) / attack_pairs if attack_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Separation(
        alerts=len(predicted),
        incidents=len(incidents),
        attack_incidents=len(attack_in),
        attack_share_top3=top3 / attacks if attacks else 1.0,
        mixed_incidents=len(mixed),
        noise_with_attack=sum(noise_in[i] for i in mixed) / noise if noise else 0.0,
        attack_with_noise=sum(attack_in[i] for i in mixed) / attacks if attacks else 0.0,
        attack_led=len(led),
        noise_in_attack_led=sum(noise_in[i] for i in led) / noise if noise else 0.0,
        attack_outside_led=sum(n for i, n in attack_in.items() if i not in led) / attacks
        if attacks
        else 0.0,
        label_precision=precision,
        attack_recall=recall,
        f1=f1,
    )
