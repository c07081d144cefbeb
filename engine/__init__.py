"""opsgate's process engine: everything that runs cases. Imports models, never Flask; the actor is
a parameter; nothing here commits (the caller owns the transaction)."""
