"""The reference submission itself, graded among the hostile ones: full marks, nothing marked."""

RAN = False
