"""Adversarial attacks (R13, R14) on any classifier, the transfer analyses built on them, and
how they are evaluated.

* :mod:`~cnnviz.attacks.base`: the contract every attack follows, and
  :class:`~cnnviz.attacks.base.AttackSpec`, an attack's declared capabilities;
* :mod:`~cnnviz.attacks.result`: :class:`~cnnviz.attacks.result.AttackResult`, what every
  attack on given images returns;
* one module an attack on given images, each returning an ``AttackResult``:
  :mod:`~cnnviz.attacks.fgsm`, :mod:`~cnnviz.attacks.pgd`, :mod:`~cnnviz.attacks.targeted`;
* the transfer analyses, built on attacks, each with its own result type:
  :mod:`~cnnviz.attacks.transfer` (noise learned on one digit, added to others: a
  ``NoiseTransfer`` holding the noise attack's ``AttackResult``) and
  :mod:`~cnnviz.attacks.universal` (one perturbation for many digits: a
  ``UniversalPerturbation``);
* :mod:`~cnnviz.attacks.registry`: every attack by name, with its capabilities;
* :mod:`~cnnviz.attacks.evaluation`: accuracy under attack, robustness curves.
"""
