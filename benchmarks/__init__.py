"""Speed comparisons of course_lib against PyTorch CPU: python -m benchmarks.run."""
