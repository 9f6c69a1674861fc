"""tipbot: anonymous Telegram intake for reports of forced and child labour."""

__version__ = "0.1.0"
