"""Shared foundations every stage may use: issues, errors, file-system guards, origin proof."""
