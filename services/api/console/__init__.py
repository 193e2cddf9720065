"""The admin console's sign-in: an admin key exchanged for an HttpOnly session cookie and a CSRF token."""
