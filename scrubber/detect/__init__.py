"""Detectors: one module each, listed in ``registry.py``."""
