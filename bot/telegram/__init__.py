"""Thin adapters between Telegram (python-telegram-bot) and the conversation, digest and storage."""
