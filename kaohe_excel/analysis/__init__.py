"""What-if analyses on scored periods: the gap to the next grade, simulation."""
