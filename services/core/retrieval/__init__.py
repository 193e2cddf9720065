"""From a question to the passages worth showing: follow-up rewriting, hybrid search, the relevance floor."""
