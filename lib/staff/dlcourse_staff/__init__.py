"""Instructor-only parts of dlcourse: reference solutions, hidden checks and grading tools.

Nothing under this package is ever shipped to students: the student build of the library
(``python -m dlcourse_staff student-wheel``) leaves it out, ``release/`` never names it, and
generated feedback is scrubbed of it (:mod:`dlcourse_staff.nbgrader_ext`).
"""
