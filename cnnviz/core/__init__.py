"""What every part of cnnviz stands on: the model contract, forward hooks, batching, seeded noise.

* :mod:`~cnnviz.core.classifier`: what cnnviz needs of a network (class scores, input range);
* :mod:`~cnnviz.core.hooks`: evaluation mode and recording layer outputs;
* :mod:`~cnnviz.core.batching`: batches of indices;
* :mod:`~cnnviz.core.noise`: seeded noise on the CPU;
* :mod:`~cnnviz.core.scores`: a target's score (logit, probability, log-probability);
* :mod:`~cnnviz.core.runtime`: process-wide CPU memory settings.
"""
