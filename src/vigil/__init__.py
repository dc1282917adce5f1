"""Vigil: a real-time risk engine for payment platforms."""

__version__ = "0.1.0"
