"""Publishable outputs: the accessible workbook, the Table 1 view, charts and the HTML report.

Everything here reads published (already protected) tables: a suppressed value is a null
there, and it is shown as ``[c]``, never drawn and never worked out again.
"""

__all__ = ["bundle", "charts", "labels", "report", "table1", "workbook"]
