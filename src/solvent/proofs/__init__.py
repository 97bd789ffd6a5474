"""Proofs a venue publishes and anyone checks: proof of liabilities (``pol``) from the
engine state at a journal seq (``liabilities``). Checking is ``solvent_verify``'s job."""
