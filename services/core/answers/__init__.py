"""What makes a generated answer trustworthy: each sentence checked against the sources it cites."""
