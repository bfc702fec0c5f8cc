"""Instructor tools: the course manifest, the student release builder and the ``course`` CLI.

These run only on an instructor's machine (Python 3.11+, nbgrader installed);
students and the autograder never import them.
"""
