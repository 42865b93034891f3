"""mat2torch: MATLAB .mat networks → readable PyTorch modules."""

__version__ = "0.1.0"

from codegen.readers.matio_import import defer_package_init as _defer_matio

_defer_matio()  # mat-io's classes without its readers until they are used
