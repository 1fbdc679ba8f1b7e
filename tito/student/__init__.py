"""The student's commands: `tito module test`, `tito module status` and `tito student lab`."""
