"""Statistics shared by experiments and analysis (plain numpy/scipy)."""
