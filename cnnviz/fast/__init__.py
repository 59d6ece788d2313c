"""Fast, exact paths for the report's CNN, used by the general algorithms when they apply.

Read the algorithms first (:mod:`cnnviz.inspect`, :mod:`cnnviz.attacks`); these modules only
make them faster on :class:`~cnnviz.models.cnn.CNN`, with the same numbers:

* :mod:`~cnnviz.fast.paths`: which fast paths a model has (the algorithms' one lookup);
* :mod:`~cnnviz.fast.occlusion`: occlusion scores computed incrementally, per changed block;
* :mod:`~cnnviz.fast.cnn_gradient`: an attack step's gradient written out by hand;
* :mod:`~cnnviz.fast.conv1_pool`: the first layer, fused, and its input gradient.
"""
