"""Node: wiring and all I/O — storage on disk (LMDB), the mempool, block production, the
clock, keys and configuration. The pure layers below receive what they need from here."""
