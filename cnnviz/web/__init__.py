"""The browser edition: a static site that runs the lab in the student's browser.

:func:`~cnnviz.web.site.export_site` writes it (``cnnviz export-web OUT``): the networks
as ONNX graphs with their weights (:mod:`cnnviz.web.export`, :mod:`cnnviz.web.graphs`),
ONNX Runtime Web vendored from the npm registry (:mod:`cnnviz.web.runtime`), the bundled
digits and the JavaScript front end in ``cnnviz/web/static``. Needs the ``web`` extra
(onnx, onnxscript; onnxruntime to check the graphs), imported only when exporting.
"""
