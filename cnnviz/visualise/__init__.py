"""Images grown by gradient ascent: what a class or a channel looks for.

* :mod:`~cnnviz.visualise.ascent`: the one gradient-ascent engine (a bounded loop, all
  else plugged in);
* :mod:`~cnnviz.visualise.parameterisations`: what it optimises (pixels, a noise on a base
  image, a Fourier spectrum);
* :mod:`~cnnviz.visualise.transforms`: what each step sees and keeps (random shifts,
  rotations, scales; blur; total variation) and the readable ``Regularisers``;
* :mod:`~cnnviz.visualise.objectives`: what it climbs (a class's score, a channel's mean,
  one unit) and the penalties on it;
* :mod:`~cnnviz.visualise.steps`: how a step moves (plain, fixed L2 length, Adam);
* :mod:`~cnnviz.visualise.class_images`: class model visualisation (R12), and the class
  ascent the targeted and noise attacks use;
* :mod:`~cnnviz.visualise.features`: channel and class visualisation with regularisers;
* :mod:`~cnnviz.visualise.patches`: the dataset patches that excite a channel most;
* :mod:`~cnnviz.visualise.templates`: a judge gradient noise cannot fool.
"""
