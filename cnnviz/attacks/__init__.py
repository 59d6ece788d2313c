"""Adversarial attacks (R13, R14) on any classifier, and how they are evaluated.

* :mod:`~cnnviz.attacks.result`: :class:`~cnnviz.attacks.result.AttackResult`, what every
  attack returns;
* one module an attack: :mod:`~cnnviz.attacks.fgsm`, :mod:`~cnnviz.attacks.pgd`,
  :mod:`~cnnviz.attacks.targeted`, :mod:`~cnnviz.attacks.transfer` (noise learned on one
  digit, added to others), :mod:`~cnnviz.attacks.universal`;
* :mod:`~cnnviz.attacks.registry`: the attacks by name;
* :mod:`~cnnviz.attacks.evaluation`: accuracy under attack, robustness curves.
"""
