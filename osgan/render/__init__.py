"""Rendering: findings as the book shows them. Nothing here decides a result; the analyses
(:mod:`osgan.analysis`, :mod:`osgan.table1`) return the numbers and verdict values, and these
modules format them: Markdown tables, intervals, figures. The chapters write the prose around
them."""
