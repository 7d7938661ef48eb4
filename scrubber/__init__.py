"""scrubber: find and remove patient identifiers from workplace photos before they are shared."""

__version__ = "0.1.0"
