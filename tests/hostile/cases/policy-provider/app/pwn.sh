#!/bin/sh
# Would run on the grading machine, as the grader's user.
echo owned > /tmp/grader-hostile-pwned
