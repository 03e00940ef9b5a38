"""The tables: the treatment gap (``gap``) and in- versus out-of-treatment comparisons
(``compare``), before and after disclosure control."""

__all__: list[str] = []
