"""In-app notices and the outbox rows (mail): what to tell whom, sent after the case work commits."""
