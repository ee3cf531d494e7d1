"""The archive of every period: lock, staging, manifest, seal."""
