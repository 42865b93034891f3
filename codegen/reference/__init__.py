"""An independent NumPy implementation of MATLAB's layer semantics, in MATLAB layout.

Written from MATLAB's documentation and observed behaviour, never from the converters:
nothing here imports ``codegen.layers``, ``codegen.importers``, ``codegen.emit`` or
torch (a test enforces it). The converters are checked against it, and
``mat2torch verify --random`` uses it to check a generated model on random inputs.
"""
