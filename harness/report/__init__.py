"""Exporters: every output format is written from :class:`harness.results.SubmissionResult`."""
