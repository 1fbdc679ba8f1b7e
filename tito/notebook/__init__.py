"""Notebook facts and the run-and-score core, shared by the student's commands, the judge and the grader.

nbgrader's facts about a cell (`cells`) and its rules for one cell (`cellrules`),
module sources as notebooks (`source`), locked cells (`locked_cells`), and running
a notebook in a fresh kernel and scoring it (`run`).
"""
