"""Optimizers, step for step PyTorch's ``torch.optim`` rules, and learning-rate schedules.

See ``optimizer.py`` for what every optimizer shares: parameter groups,
hyperparameters checked at each step, per-parameter state, PyTorch-shaped
state dicts.
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam
from .adamw import AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from . import lr_scheduler
