"""Unattended runs: the TOML config, the pipeline that makes a period's extract and
tables, the run log and the manifest."""

__all__: list[str] = []
