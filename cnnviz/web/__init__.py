"""The browser edition: a static site that runs the lab in the student's browser.

:func:`~cnnviz.web.site.export_site` writes it (``cnnviz export-web OUT``): the networks as ONNX
graphs with one weights file each (``cnnviz.web.export``, ``cnnviz.web.graphs``), ONNX Runtime Web
vendored from the npm registry (``cnnviz.web.runtime``), the bundled digits and the JavaScript front
end in ``cnnviz/web/static``; ``cnnviz.web.command`` is ``cnnviz export-web``'s own part. Exporting
needs the ``web`` extra (onnx, onnxscript, onnxruntime), imported only when a graph is exported or
checked: ``import cnnviz.web`` does not import them.
"""

from cnnviz.web.export import WebModel, classifier_model, report_cnn_model
from cnnviz.web.site import SiteResult, export_site, shipped_models

__all__ = [
    "SiteResult",
    "WebModel",
    "classifier_model",
    "export_site",
    "report_cnn_model",
    "shipped_models",
]
