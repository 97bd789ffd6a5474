"""Zero-knowledge proofs about margin (the ``zk`` extra; ``docs/zk.md``).

* ``group``: ristretto255 (RFC 9496) through libsodium, Pedersen commitments;
* ``transcript``: the Fiat–Shamir transcript;
* ``sigma``: an OR proof that one of two commitments opens to 0;
* ``rangeproof``: a commitment opens to ``[0, 2^n)``;
* ``cema``: Z1, the committed excess-margin attestation ("equity ≥ MM", or "< MM" for a
  liquidation) and ``cema_json``, its files;
* ``engine_statement``: the statement and witness of one engine account.
"""
