"""The exception types the converter raises for bad or unsupported input."""


class ConversionError(Exception):
    """A model (or a command-line value) the converter cannot turn into a valid `.atrous` file.

    The message is one line and names what was wrong and where (op type, node, tensor).
    """


class UsageError(ConversionError):
    """A command-line value that is wrong in itself or for this model (e.g. `--input-shape` naming a
    tensor that is not a graph input): `atrous-convert` exits with status 2 for these, 1 for the
    model's own problems."""
