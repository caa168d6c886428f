"""Matplotlib figures for every result type, one module per topic.

matplotlib is an optional dependency (``pip install 'neurocompare[plot]'``); each function
imports it at call time and returns the ``Figure`` so notebooks and the CLI can show or save it.
"""
