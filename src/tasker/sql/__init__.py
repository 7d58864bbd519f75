"""Packaged migrations, applied in file-name order by `tasker migrate`."""
