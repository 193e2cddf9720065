"""Who may read what: the authenticated caller, API keys, groups, clearances and classifications."""
