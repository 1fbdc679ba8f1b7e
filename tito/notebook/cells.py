"""nbgrader's facts about a notebook cell, read in one place.

A cell's `metadata.nbgrader` says whether it is graded, a solution or locked,
its grade id and its points. Inside a cell, solution and hidden-test regions
run from a line containing the begin delimiter to one containing the end
delimiter (nbgrader's ClearSolutions and ClearHiddenTests defaults); as in
nbgrader, a nested or unterminated region is an error, not a guess.

Standard library only: the grader's kernel launcher imports tito.grading, and
what tito.grading imports must start fast.
"""

from __future__ import annotations

import re

from dataclasses import dataclass

from tito.errors import TitoError


@dataclass(frozen=True)
class Delimiters:
    """The two marker texts of one kind of region, and its name in nbgrader's error messages."""

    begin: str
    end: str
    name: str


SOLUTION = Delimiters("BEGIN SOLUTION", "END SOLUTION", "solution")
HIDDEN_TESTS = Delimiters("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden tests")


class MarkerError(TitoError, RuntimeError):
    """A nested or unterminated region: nbgrader refuses such a cell with the same words."""


# ------------------------------------------------------------------ metadata


def kernel_cpus(nb) -> int:
    """The CPUs one kernel running this notebook's tests needs (metadata `tinytorch.kernel_cpus`, in a
    module source's header; 1 when absent): module 11's parallel speed checks need 2."""
    value = nb.metadata.get("tinytorch", {}).get("kernel_cpus", 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TitoError(f"notebook metadata tinytorch.kernel_cpus must be a whole number of at least 1, got {value!r}")
    return value


def nbgrader_metadata(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_metadata(cell).get("grade_id")


def is_graded(cell) -> bool:
    """Graded cells earn points (code: autograded tests; markdown: manually graded answers)."""
    return bool(nbgrader_metadata(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(nbgrader_metadata(cell).get("solution"))


def is_locked(cell) -> bool:
    """nbgrader's rule: locked cells are put back as released by the grader; solution cells never are,
    graded cells always."""
    if "nbgrader" not in cell.get("metadata", {}):
        return False
    if is_solution(cell):
        return False
    if is_graded(cell):
        return True
    return bool(nbgrader_metadata(cell).get("locked", False))


def points(cell) -> float:
    return float(nbgrader_metadata(cell).get("points", 0))


def is_graded_code(cell) -> bool:
    return cell.get("cell_type") == "code" and is_graded(cell)


def graded_code_cells(nb) -> list:
    return [cell for cell in nb.cells if is_graded_code(cell)]


# ------------------------------------------------------------------ regions


@dataclass(frozen=True)
class Region:
    """One region of a cell: the indices of its begin and end marker lines."""

    begin: int
    end: int


@dataclass(frozen=True)
class ParsedSource:
    """A cell's source as nbgrader reads it: its lines (split at "\\n"), its regions, and every
    marker line (an end marker outside a region is a marker too: nbgrader drops it)."""

    lines: list[str]
    regions: list[Region]
    markers: frozenset[int]

    def inside(self) -> set[int]:
        return {index for region in self.regions for index in range(region.begin + 1, region.end)}


_TEST_DEF_RE = re.compile(r"^def (test_\w+)\s*\(", re.MULTILINE)


def defined_tests(source: str) -> list[str]:
    """The names of the `test_*` functions a cell's source defines at its top level, in order."""
    return _TEST_DEF_RE.findall(source)


def parse_regions(source: str, delimiters: Delimiters) -> ParsedSource:
    """The regions of `source`: MarkerError for a nested or unterminated one."""
    lines = source.split("\n")
    found, markers, begin = [], set(), None
    for index, line in enumerate(lines):
        if delimiters.begin in line:
            if begin is not None:
                raise MarkerError(f"encountered nested begin {delimiters.name} statements (line {index + 1})")
            begin = index
        elif delimiters.end in line:
            if begin is not None:
                found.append(Region(begin, index))
                begin = None
        else:
            continue
        markers.add(index)
    if begin is not None:
        raise MarkerError(f"no end {delimiters.name} statement found (begun on line {begin + 1})")
    return ParsedSource(lines, found, frozenset(markers))


def region_lines(source: str, delimiters: Delimiters) -> list[list[str]]:
    """The lines inside each region, without the marker lines."""
    parsed = parse_regions(source, delimiters)
    return [parsed.lines[region.begin + 1:region.end] for region in parsed.regions]


def split_regions(source: str, delimiters: Delimiters) -> tuple[list[str], list[str]]:
    """(lines inside regions, lines outside them); marker lines are in neither."""
    parsed = parse_regions(source, delimiters)
    inside = parsed.inside()
    return ([line for i, line in enumerate(parsed.lines) if i in inside],
            [line for i, line in enumerate(parsed.lines) if i not in inside and i not in parsed.markers])


def without_markers(source: str, delimiters: Delimiters) -> str:
    """`source` without its marker lines, each removed with the line break after it."""
    parsed = parse_regions(source, delimiters)
    if not parsed.markers:
        return source
    pieces = [line + "\n" for line in parsed.lines[:-1]] + [parsed.lines[-1]]
    return "".join(piece for index, piece in enumerate(pieces) if index not in parsed.markers)
