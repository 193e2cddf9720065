"""Adapting retrieval to the company's own documents: tuned encoders, versioned, and the index generations
that carry them, re-built in the background and switched atomically (docs/adaptation.md)."""
