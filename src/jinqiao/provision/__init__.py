"""Provisioning a network: genesis, node homes, keys and TLS material (``jinqiao init``,
``jinqiao node add``), and the built-in network presets."""
