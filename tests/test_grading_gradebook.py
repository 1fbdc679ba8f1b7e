"""The coordinator's batched gradebook: nbgrader's writes inside a batch are all or nothing.

Checked against a second, independent connection (sqlite3) that sees only what was committed.
"""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from tito.grading.gradebook import EXTRA_INDEXES, batched_gradebook
from tito.grading.paths import COURSE_ID


def students(path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return sorted(r[0] for r in db.execute("SELECT id FROM student"))


def test_writes_reach_the_database_only_when_the_batch_commits(tmp_path):
    from nbgrader import api
    from nbgrader.api import InvalidEntry

    path = tmp_path / "gradebook.db"
    url = f"sqlite:///{path}"
    with batched_gradebook(url, COURSE_ID) as batch:
        with api.Gradebook(url, COURSE_ID) as gb:  # looked up when called, as nbgrader's modules do
            gb.add_student("ada")
        assert students(path) == [], "not committed yet"
        batch.commit()
        assert students(path) == ["ada"]
        with api.Gradebook(url, COURSE_ID) as gb:
            gb.add_student("bob")
            with pytest.raises(InvalidEntry):  # nbgrader rolls back its failed insert: only that is undone
                gb.add_student("bob")
            gb.add_student("cyd")
    assert students(path) == ["ada", "bob", "cyd"], "leaving the batch commits it"

    with pytest.raises(RuntimeError, match="coordinator stopped"):
        with batched_gradebook(url, COURSE_ID):
            with api.Gradebook(url, COURSE_ID) as gb:
                gb.add_student("dan")
            raise RuntimeError("coordinator stopped")
    assert students(path) == ["ada", "bob", "cyd"], "an interrupted batch leaves nothing behind"
    with api.Gradebook(url, COURSE_ID) as gb:
        assert type(gb).__name__ == "Gradebook", "nbgrader's own class is back after the batch"
    with contextlib.closing(sqlite3.connect(path)) as db:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(EXTRA_INDEXES) <= indexes
