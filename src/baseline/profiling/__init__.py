"""Profile capture (py-spy) and pure analysis of collapsed ("folded") stacks: hot paths, rendering, diffs."""
