"""micrograd's module layout: ``from nanograd.nn import MLP`` as ``from micrograd.nn import MLP``.

A thin re-export of :mod:`nanograd.neural_net`: the classes are the same objects.
"""

from .neural_net import MLP, Layer, Module, Neuron

__all__ = ["MLP", "Layer", "Module", "Neuron"]
