"""Whole jobs made of stages (the demo), each stage through the one result store."""
