"""MNIST with LeNet-5 and a parameter-matched MLP: data, models, training, plots."""

__version__ = "0.2.0"
