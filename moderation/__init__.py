"""Moderation filter and action-confirmation guard (see the README's roadmap; not built yet)."""
