"""Scoring methods, totals, ranking and grades: pure DataFrame functions."""
