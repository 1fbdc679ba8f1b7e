"""nbgrader's OverwriteCells, quiet about the hidden tests it puts back by design.

A released test cell lacks its hidden tests, so it always differs from the
gradebook's copy, and OverwriteCells logged "Attribute 'checksum' for cell … has
changed!" for every such cell of every student, untouched ones included: it
reads as tampering. Here a locked cell that is exactly as released gets the
gradebook's source (hidden tests included) before OverwriteCells checks it, so
only a real change is reported. Restoring and scoring are nbgrader's, unchanged.
"""

from __future__ import annotations

from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

from tito.notebook.cellrules import is_locked


class RestoreHiddenTests(OverwriteCells):
    def released_source(self, source: str) -> str:
        """The source as `nbgrader generate_assignment` released it: hidden test regions removed."""
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(source)
        clear = ClearHiddenTests(parent=self)
        clear._remove_hidden_test_region(cell)  # nbgrader's own region rule
        return cell.source

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None and is_locked(cell):
            try:
                source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                source_cell = None
            if source_cell is not None and source_cell.locked and cell.source != source_cell.source \
                    and cell.source == self.released_source(source_cell.source):
                cell.source = source_cell.source
        return super().preprocess_cell(cell, resources, cell_index)
