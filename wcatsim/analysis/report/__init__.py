"""Markdown reports: formatting primitives (a leaf), tables, and the run and demo reports."""
