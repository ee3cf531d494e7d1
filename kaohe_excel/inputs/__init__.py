"""Reading the returned workbooks and validating every cell (the second stage)."""
