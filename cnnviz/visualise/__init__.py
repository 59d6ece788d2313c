"""Images grown by gradient ascent: what a class or a channel looks for.

* :mod:`~cnnviz.visualise.class_images`: class model visualisation (R12);
* :mod:`~cnnviz.visualise.features`: channel and class visualisation with regularisers, and
  the dataset patches that excite a channel most;
* :mod:`~cnnviz.visualise.templates`: a judge gradient noise cannot fool.
"""
