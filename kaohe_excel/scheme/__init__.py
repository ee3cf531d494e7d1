"""The scheme workbook: loading and checking it (the first stage)."""
