"""Identifier recognizers: one module per HIPAA Safe Harbor identifier type."""
