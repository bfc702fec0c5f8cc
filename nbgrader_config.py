"""nbgrader settings of the course.

Read by ``course build`` (the release builder runs nbgrader's GenerateAssignment in
a temporary course directory and also stubs ``course_lib`` with these
ClearSolutions settings) and by ``nbgrader`` run by hand from the repository
root. There, ``nbgrader generate_assignment ID --force`` writes the notebooks and
a gitignored ``gradebook.db``, then the post-convert hook below builds the rest
of ``release/ID/`` (stubbed course_lib, submission helper, README) exactly as
``course build ID`` does, so the release stays complete.
"""
c = get_config()  # noqa: F821 (nbgrader defines get_config when it loads this file)

c.CourseDirectory.course_id = "deep-learning-from-scratch"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"

# The same stub text in notebooks and in the released course_lib.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Plain `nbgrader generate_assignment` writes notebooks only; this completes the release.
c.GenerateAssignment.post_convert_hook = "course_tools.release.complete_nbgrader_release"
