"""Test and demo helpers (deterministic toy data); not imported by ``bevt_mm``."""
