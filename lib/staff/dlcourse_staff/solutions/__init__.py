"""Reference solutions, one module per graded notebook, mirroring the student stubs."""
