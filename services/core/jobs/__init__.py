"""Background work: the Celery queue, the job table as its outbox, and the uploaded originals it reads."""
