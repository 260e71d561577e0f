"""Shared test machinery: imported explicitly by tests and the benchmark; fixtures live in conftest.py."""
