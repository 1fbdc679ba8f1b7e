"""What grading made of each submission: status, score, failing tests, what happened.

Saved per module and student under course/outcomes/ as JSON, written
atomically; the report and status commands read them back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from tito.files import write_atomic
from tito.grading.paths import CoursePaths


@dataclass
class Outcome:
    """How one submission of one module was graded."""

    student: str
    module: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    failing_tests: list[str] = field(default_factory=list)
    tampered_cells: list[str] = field(default_factory=list)
    timed_out_cells: list[str] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0
    in_gradebook: bool = False
    graded_at: str = ""
    worker: str = ""  # who executed it: a local pool process or a Dask worker's address

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Outcome":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def save_outcome(course: CoursePaths, outcome: Outcome) -> None:
    write_atomic(course.outcome_file(outcome.module, outcome.student), json.dumps(outcome.to_dict(), indent=2))


def load_outcome(course: CoursePaths, module_key: str, student: str) -> Outcome | None:
    path = course.outcome_file(module_key, student)
    try:
        return Outcome.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
