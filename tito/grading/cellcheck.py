"""nbgrader's CheckCellMetadata, remembering the cell metadata it has already found valid.

nbgrader checks every nbgrader cell of every notebook against its metadata
schema with `jsonschema.validate`, which first checks the schema itself: about
2 ms per cell, twice per submission (sanitizing and saving grades), the largest
single cost of the grading coordinator. The check depends only on the cell's
type and its nbgrader metadata, which are the same in nearly every submission
of a class, so a combination found valid once is not checked again in this
process. Invalid metadata is checked every time and fails as in nbgrader.
"""

from __future__ import annotations

import json
import traceback

from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.preprocessors import CheckCellMetadata

_VALID: set[tuple[str, str]] = set()


class RememberingMetadataValidator(MetadataValidator):
    def validate_cell(self, cell) -> None:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            return
        key = (cell.get("cell_type", ""), json.dumps(meta, sort_keys=True, default=str))
        if key in _VALID:
            return
        super().validate_cell(cell)
        _VALID.add(key)


class CheckCellMetadataOnce(CheckCellMetadata):
    def preprocess(self, nb, resources):
        try:
            RememberingMetadataValidator().validate_nb(nb)  # the duplicate-id check still runs on every notebook
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg)
        return nb, resources
