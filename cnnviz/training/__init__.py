"""Training (R3) and evaluation (R4) of any classifier, and training you can watch.

* :mod:`~cnnviz.training.recipe`: what a run does (:class:`~cnnviz.training.recipe.Recipe`);
* :mod:`~cnnviz.training.loop`: the training loop, a short loop over the steps below;
* :mod:`~cnnviz.training.augment`: making a batch (shifted, noisy and salted);
* :mod:`~cnnviz.training.adversarial`: the adversarial batch and the mixed loss;
* :mod:`~cnnviz.training.step`: one optimiser step (optimiser, schedule, bf16 autocast);
* :mod:`~cnnviz.training.averaging`: an average of the weights;
* :mod:`~cnnviz.training.validation`: validation and keeping the best epoch;
* :mod:`~cnnviz.training.evaluation`: test loss and accuracy;
* :mod:`~cnnviz.training.device`: the device and numeric precision;
* :mod:`~cnnviz.training.cache`: a trained model, trained once per machine;
* :mod:`~cnnviz.training.history` and :mod:`~cnnviz.training.progress`: what a run records
  and reports every step;
* :mod:`~cnnviz.training.live`: a run in a background thread.
"""
