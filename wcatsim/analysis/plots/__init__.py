"""Figures: one module per kind of figure, all drawn with :mod:`wcatsim.analysis.plots.style`."""
