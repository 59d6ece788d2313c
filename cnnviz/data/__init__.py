"""Inputs: MNIST and IDX files, the bundled test digits, drawings and a teacher's pictures.

* :mod:`~cnnviz.data.mnist`: finding, downloading, verifying and splitting MNIST;
* :mod:`~cnnviz.data.idx` and :mod:`~cnnviz.data.download`: the file format and the mirrors;
* :mod:`~cnnviz.data.sample_digits`: test digits that are always there;
* :mod:`~cnnviz.data.drawing`: a drawing prepared as MNIST prepared its digits;
* :mod:`~cnnviz.data.image_folder`: a folder of pictures as model inputs.
"""
