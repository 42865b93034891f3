"""mat2torch: MATLAB .mat networks → readable PyTorch modules."""

__version__ = "0.1.0"
