"""Parley: a terminal chatbot for local LLMs with a safety layer."""

__version__ = "0.1.0"
