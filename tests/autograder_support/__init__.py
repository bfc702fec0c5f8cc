"""Test-only helpers for the autograder tests: stub releases, reference submissions, schema checks."""
