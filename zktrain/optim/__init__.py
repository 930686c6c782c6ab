"""Large-batch optimizers for PyTorch (torch.optim conventions). One optimizer per module."""

from zktrain.optim.lamb import LAMB
from zktrain.optim.lars import LARS
from zktrain.optim.adagradnorm import AdaGradNorm
from zktrain.optim.agvm import AGVM
from zktrain.optim.mkor import MKOR

__all__ = ["LAMB", "LARS", "AdaGradNorm", "AGVM", "MKOR"]
