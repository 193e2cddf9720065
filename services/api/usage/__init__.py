"""Usage for admins: requests, tokens, refusals, "I don't know" rate and latency per day, from the audit log."""
