"""Sphinx extension: drop repeated <script> entries from every page.

sphinx-thebe (loaded by jupyter-book 1.x whether or not thebe is used) registers its inline
configuration script on every ``env-before-read-docs`` event, which fires more than once in a
jupyter-book build; the second copy re-declares ``const THEBE_JS_URL`` and throws a SyntaxError in
the browser. ``scripts/check_book.py`` fails on any JavaScript exception, so the duplicates go.
"""

from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # the same inline script may come once with filename None and once with ""
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
