"""Text into vectors: dense sentence embeddings, BM25 sparse vectors, and the batcher that pools ingestion."""
