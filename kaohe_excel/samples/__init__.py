"""The sample scheme and inbox of the fictional 清源县."""
