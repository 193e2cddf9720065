"""Feedback on answers: thumbs up or down with a comment, kept with the answer and its citations for admins."""
