"""Errors meant for people: one clear sentence, no traceback."""


class ConversionError(Exception):
    """An expected failure (unsupported layer, corrupt file, wrong variable).

    The message is a complete sentence that names the file, the variable, the layer
    and what to do; the CLI prints it as is and exits with code 2.
    """
