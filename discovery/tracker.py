"""When a detection becomes a suggestion or an automatic feature: pure logic over a clock, so
it is tested with a fake one. One Tracker per sampled event, in the sampler's memory.

- On screen: seen above the threshold in ``consecutive`` samples in a row (one miss resets).
- Suggested: when it comes on screen, unless it was suggested within ``resuggest`` seconds.
- Automatic: on screen for ``dwell`` seconds (from its first sample of the streak)."""

from __future__ import annotations

from dataclasses import dataclass, field

from discovery.detectors.base import Detection


@dataclass
class Streak:
    first_seen: float
    samples: int
    detection: Detection


@dataclass
class Outcome:
    suggest: list[Detection] = field(default_factory=list)
    on_screen: list[Detection] = field(default_factory=list)
    # Products on screen for the auto dwell, longest first (the service decides whether to act).
    dwelled: list[Detection] = field(default_factory=list)
    products: dict = field(default_factory=dict)  # the on-screen products' rows (the service's)


class Tracker:
    def __init__(self, *, threshold: float, consecutive: int, resuggest: float, dwell: float):
        self.threshold = threshold
        self.consecutive = max(1, consecutive)
        self.resuggest = resuggest
        self.dwell = dwell
        self.streaks: dict[int, Streak] = {}
        self.suggested_at: dict[int, float] = {}

    def observe(self, detections: list[Detection], now: float) -> Outcome:
        """Feed one sample's detections (taken at ``now``, seconds); what to do about them."""
        seen = {}
        for detection in detections:
            if detection.score >= self.threshold and detection.product_id not in seen:
                seen[detection.product_id] = detection
        self.streaks = {
            pid: Streak(
                first_seen=self.streaks[pid].first_seen if pid in self.streaks else now,
                samples=self.streaks[pid].samples + 1 if pid in self.streaks else 1,
                detection=detection,
            )
            for pid, detection in seen.items()
        }
        outcome = Outcome()
        for pid, streak in self.streaks.items():
            if streak.samples < self.consecutive:
                continue
            outcome.on_screen.append(streak.detection)
            last = self.suggested_at.get(pid)
            if last is None or now - last >= self.resuggest:
                self.suggested_at[pid] = now
                outcome.suggest.append(streak.detection)
            if now - streak.first_seen >= self.dwell:
                outcome.dwelled.append(streak.detection)
        outcome.dwelled.sort(key=lambda d: self.streaks[d.product_id].first_seen)
        return outcome
