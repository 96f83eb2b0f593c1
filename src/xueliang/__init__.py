"""Xueliang: rural community safety and services platform."""

__version__ = "0.1.0"
