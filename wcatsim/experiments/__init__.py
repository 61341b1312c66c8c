"""Experiments on a trained model: Monte Carlo over fault realisations, sweeps, voltage plans, attacks."""
