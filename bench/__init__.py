"""gatewise benchmarks: ``python -m bench`` (see README, "Performance")."""
