"""PyTorch's ``torch.utils`` counterpart: ``tinygrad_conv.utils.data`` (datasets and the DataLoader)."""
from . import data  # noqa: F401
