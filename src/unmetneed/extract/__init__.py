"""The k-anonymised extract from raw records: the whole step (``anonymise``) and its parts."""

# Nothing re-exported here: the module ``anonymise`` and its function share the name, so the
# names are imported from the modules (``unmetneed.extract.anonymise`` re-exports them).
__all__: list[str] = []
