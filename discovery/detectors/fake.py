"""A detector for tests: answers what it is told (``answers``, one list per frame, then the
last one again) and records each call, like mail.outbox."""

from __future__ import annotations

from discovery.detectors.base import Candidate, Detection, DetectorError


class FakeDetector:
    def __init__(self):
        self.calls: list[dict] = []
        self.answers: list[list[Detection] | Exception] = []

    def detect(self, frame, *, organization_id: int, candidates: list[Candidate]) -> list[Detection]:
        self.calls.append(
            {
                "shape": getattr(frame, "shape", None),
                "organization_id": organization_id,
                "candidates": candidates,
            }
        )
        if not self.answers:
            return []
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, DetectorError):
            raise answer
        return list(answer)
