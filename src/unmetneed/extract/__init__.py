"""The k-anonymised treatment extract made from raw records (anonymise)."""

__all__: list[str] = []
