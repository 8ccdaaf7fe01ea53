"""HRSS: carry out, monitor and evaluate a city HRSS bureau's five-year plan."""

__version__ = "0.1.0"
