"""Reading inputs: one engine for every format (readers, sources, the validator of the
contracts in ``schemas/``, record batches)."""

__all__: list[str] = []
