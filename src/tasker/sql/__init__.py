"""The engine's current-state SQL: schema.sql (tables, indexes, defaults), one file per view under views/ and
one per function under functions/, each file named after what it defines. `tasker migrate` applies them."""
