"""Counts the words of a text: a plugin written only from the documentation."""
