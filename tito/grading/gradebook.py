"""The coordinator's gradebook: one connection for a whole autograde run, committed in batches.

nbgrader opens a new `Gradebook` (a new SQLAlchemy engine, a check of every
table, a commit of the course row) about ten times per submission: in its
autograde converter and in the OverwriteCells, SaveAutoGrades and late-penalty
preprocessors. That costs more than everything else the coordinator does, and
every one of nbgrader's commits waits for the disk.

Inside `batched_gradebook(...)`, every `Gradebook(url)` that nbgrader's modules
(and tito's) open for this course's URL is a view of one open gradebook whose
session runs in a transaction of ours: nbgrader's own commits and rollbacks
become savepoints in it, and `commit()` makes everything since the last one
durable at once. The caller writes a submission's outcome file only after the
commit that holds its grades, so a coordinator stopped between two commits
grades those submissions again and records nothing twice.
"""

from __future__ import annotations

import contextlib
import sys
import time
from types import SimpleNamespace
from typing import Iterator


# nbgrader's tables index these foreign keys only as the second column of a unique constraint, so every
# submission's score (a sum over its grades) and every lookup of its grades read whole tables: grading
# slows down as the class grows. tito adds the missing indexes (harmless to nbgrader and its migrations).
EXTRA_INDEXES = {
    "tito_grade_notebook": ("grade", "notebook_id"),
    "tito_comment_notebook": ("comment", "notebook_id"),
    "tito_submitted_notebook_assignment": ("submitted_notebook", "assignment_id"),
    "tito_submitted_assignment_student": ("submitted_assignment", "student_id"),
}


def add_indexes(engine) -> None:
    """Create EXTRA_INDEXES where they are missing (SQLite and PostgreSQL both know IF NOT EXISTS)."""
    from sqlalchemy import inspect, text

    present = {index["name"] for table in {t for t, _ in EXTRA_INDEXES.values()}
               for index in inspect(engine).get_indexes(table)}
    for name, (table, column) in EXTRA_INDEXES.items():
        if name in present:
            continue
        # one transaction per index: a coordinator that held the lock of one new index while waiting for
        # another table deadlocked with a second coordinator's batch writing to both (PostgreSQL)
        with engine.begin() as connection:
            connection.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"))


class BatchedGradebook:
    """The open gradebook of a run, and the commit of its batch."""

    def __init__(self, gradebook, connection):
        self.gradebook = gradebook
        self._connection = connection
        self._transaction = connection.begin()
        self.started = time.monotonic()  # when the open batch began

    def commit(self) -> None:
        """Called between submissions: the session's savepoint ends with it, and the next use starts a new one."""
        self.gradebook.db.commit()
        self.gradebook.db.remove()
        self._transaction.commit()
        self._transaction = self._connection.begin()
        self.started = time.monotonic()

    def rollback(self) -> None:
        self.gradebook.db.remove()
        self._transaction.rollback()
        self._transaction = self._connection.begin()


def _engine(db_url: str):
    from sqlalchemy import create_engine, event

    sqlite = db_url.startswith("sqlite")
    # a second coordinator's writes wait for our batch's commit (at most about BATCH_SECONDS) rather than fail
    engine = create_engine(db_url, future=True, connect_args={"timeout": 60} if sqlite else {})
    if sqlite:
        # Python's sqlite3 would begin and end transactions on its own and break savepoints:
        # let SQLAlchemy's BEGIN and SAVEPOINT statements reach SQLite as written
        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")
    return engine


@contextlib.contextmanager
def batched_gradebook(db_url: str, course_id: str) -> Iterator[BatchedGradebook]:
    """While open, `Gradebook(db_url, ...)` anywhere in nbgrader or tito is a view of one gradebook
    whose writes stay in the current batch until `commit()`. On leaving, the open batch is committed;
    on an exception it is rolled back."""
    import nbgrader.apps.api  # noqa: F401  every module that binds Gradebook is imported before the swap
    import nbgrader.converters  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401
    from nbgrader import api
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm import scoped_session, sessionmaker

    from tito.grading.config import ensure_tools_on_path

    ensure_tools_on_path()  # a new gradebook is stamped by nbgrader's `alembic` command
    original = api.Gradebook
    opened = original(db_url, course_id)  # creates the tables and the course row, committed
    engine = _engine(db_url)
    add_indexes(engine)
    connection = engine.connect()
    opened.db.remove()
    opened.engine.dispose()
    opened.engine = engine
    opened.db = scoped_session(sessionmaker(bind=connection, autoflush=True, future=True,
                                            join_transaction_mode="create_savepoint"))
    batch = BatchedGradebook(opened, connection)
    known_courses = {course_id}
    source_cells: dict[tuple, SimpleNamespace] = {}

    class BorrowedGradebook(original):
        """A view of the run's gradebook: same session, nothing to set up, nothing to close."""

        def __init__(self, url: str, course: str = "default_course", authenticator=None):
            self.__dict__.update(opened.__dict__)
            self.course_id, self.authenticator = course, authenticator
            if course not in known_courses:
                self.check_course(course_id=course)  # as nbgrader's own Gradebook would
                known_courses.add(course)

        def close(self) -> None:
            pass

        def find_source_cell(self, name: str, notebook: str, assignment: str):
            """The instructor's cell, read once per run: OverwriteCells asks for every locked cell of every
            submission, and the source notebooks do not change while a module is graded. A copy of its
            columns, so that it outlives the batch's session."""
            key = (name, notebook, assignment)
            if key not in source_cells:
                cell = original.find_source_cell(self, name, notebook, assignment)
                source_cells[key] = SimpleNamespace(**{c.key: getattr(cell, c.key)
                                                       for c in sa_inspect(cell).mapper.column_attrs})
            return source_cells[key]

    def gradebook(url: str, *args, **kwargs):
        if url == db_url:
            return BorrowedGradebook(url, *args, **kwargs)
        return original(url, *args, **kwargs)

    patched = [m for name, m in list(sys.modules.items())
               if (name == "nbgrader" or name.startswith(("nbgrader.", "tito."))) and getattr(m, "Gradebook", None) is original]
    for module in patched:
        module.Gradebook = gradebook
    try:
        yield batch
        batch.commit()
    except BaseException:
        batch.rollback()
        raise
    finally:
        for module in patched:
            module.Gradebook = original
        opened.db.remove()
        connection.close()
        engine.dispose()
