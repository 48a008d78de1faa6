"""The names ``tests/test_sweep.py`` displays a record by, as ``plots.*``: the chapters'
renderings live in :mod:`osgan.render`."""

from osgan.render.table1_record import show_record, show_variants

__all__ = ["show_record", "show_variants"]
