"""Figures: one module per kind of figure, all drawn with :mod:`wcatsim.plots.style`."""
