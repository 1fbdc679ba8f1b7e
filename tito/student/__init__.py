"""The student's commands: `tito module test`, `tito module status`, `tito student lab`, and a workspace
as they read it."""
