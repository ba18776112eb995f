"""Helpers the test suites share that are not fixtures."""
