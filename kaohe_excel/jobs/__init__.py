"""The jobs above the stages: check, run, verify, init."""
