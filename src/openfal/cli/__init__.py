"""The ``openfal`` command: parses, loads settings, delegates."""
