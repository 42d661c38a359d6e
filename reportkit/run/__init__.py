"""`reportkit run`: plan the units, run each notebook on an executor with its own kernel, and
keep OUT (files written atomically, the manifest)."""
