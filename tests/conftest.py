"""Shared pytest fixtures and settings.

Trained models that several tests need are built once per test session here
(session-scoped fixtures), never per test.
"""

from __future__ import annotations

import os

# Two cores on CI: keep torch and numba from oversubscribing them.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
