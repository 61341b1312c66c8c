"""Reading results: Pareto fronts and iso-accuracy savings, reports, figures."""
