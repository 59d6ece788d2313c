"""Looking inside a trained model: filters, feature maps, occlusion, saliency, one neuron.

* :mod:`~cnnviz.inspect.layers`: convolution filters (R9) and feature maps (R10);
* :mod:`~cnnviz.inspect.occlusion`: a grey patch slid over an image (R11);
* :mod:`~cnnviz.inspect.saliency`: the gradient of a class score with respect to the pixels;
* :mod:`~cnnviz.inspect.neuron`: the exact computation behind one value.
"""
