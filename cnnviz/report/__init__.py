"""The report's numbers and figures, beside ours: what ``cnnviz report`` and ``cnnviz figures``
make.

* :mod:`~cnnviz.report.presets`: the report's settings and published numbers, typed;
* :mod:`~cnnviz.report.digits`: the seeded digits the numbers are measured on;
* :mod:`~cnnviz.report.numbers`: measuring them on the shipped models;
* :mod:`~cnnviz.report.table`: the side-by-side table;
* :mod:`~cnnviz.report.figures`: the report's figures from the shipped weights.
"""
