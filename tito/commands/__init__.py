"""One file per tito command group: argument parsing and Rich rendering only."""
