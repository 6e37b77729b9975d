"""Built-in apps, registered by ``openfal serve``. Each is an ordinary ``openfal.App``."""
