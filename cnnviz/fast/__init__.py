"""Fast, exact paths for the report's CNN, used by the general algorithms when they apply.

Read the algorithms first (:mod:`cnnviz.inspect`, :mod:`cnnviz.attacks`); these modules only
make them faster on :class:`~cnnviz.models.cnn.CNN`:

* :mod:`~cnnviz.fast.conv1_pool`: the first layer, fused, and its input gradient;
* :mod:`~cnnviz.fast.cnn_gradient`: an attack step's gradient written out by hand.
"""
