"""The relevance floor, carried over to a new encoder's scale.

The floor (`STEWARD_MIN_RELEVANCE`) is a cosine similarity below which the best passage is taken to be off
topic, and it was calibrated on the shipped encoder. A tuned encoder spreads similarities differently (training
pulls matching pairs together and pushes the rest apart), so the same number would refuse too much or too little.
The floor is moved to the same place on the new scale: for the same questions, the best similarity under the new
encoder is fitted as a line of the best similarity under the old one (least squares), and the floor goes through
that line. Questions are what the gate scores (labelled questions or held-out documents' pairs): no label is
read, only the similarities the two encoders give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Fewer questions than this, or similarities that hardly vary, give no line worth trusting: the floor is kept.
MIN_QUESTIONS = 10
MIN_SPREAD = 0.02


@dataclass(frozen=True)
class FloorFit:
    floor: float  # on the new scale
    previous: float
    slope: float | None  # None: not fitted (too few questions), the floor kept
    intercept: float | None
    questions: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "min_relevance_before": self.previous,
            "min_relevance_after": self.floor,
            "slope": self.slope,
            "intercept": self.intercept,
            "questions": self.questions,
        }


def carry_floor(floor: float, old: Sequence[float | None], new: Sequence[float | None]) -> FloorFit:
    """`floor`, on the old encoder's scale, moved to the new one's: where the line through the questions' best
    similarities under both encoders (`old[i]`, `new[i]`: question i's; None where it found nothing) puts it,
    clamped to [0, 1]. The gate's dense searches give both (gate.GateScore.best_dense)."""
    seen = np.array([(a, b) for a, b in zip(old, new, strict=True) if a is not None and b is not None])
    if len(seen) < MIN_QUESTIONS or float(np.std(seen[:, 0])) < MIN_SPREAD:
        return FloorFit(floor, floor, None, None, len(seen))
    slope, intercept = np.polyfit(seen[:, 0], seen[:, 1], 1)
    moved = min(max(float(slope * floor + intercept), 0.0), 1.0)
    return FloorFit(round(moved, 4), floor, round(float(slope), 4), round(float(intercept), 4), len(seen))
