"""Networks: the report's CNN, the layer table of any model, checkpoints, a teacher's model.

* :mod:`~cnnviz.models.cnn`: the report's CNN and its geometry;
* :mod:`~cnnviz.models.summary`: the layer table (R7) of any classifier;
* :mod:`~cnnviz.models.checkpoint`: safe saving and loading, the shipped weights;
* :mod:`~cnnviz.models.user_model`: a teacher's ``MODULE:FACTORY``, loaded and checked.
"""
