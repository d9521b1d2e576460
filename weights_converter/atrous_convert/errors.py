"""The one exception type the converter raises for bad or unsupported input."""


class ConversionError(Exception):
    """A model (or a command-line value) the converter cannot turn into a valid `.atrous` file.

    The message is one line and names what was wrong and where (op type, node, tensor).
    """
