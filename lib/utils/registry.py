"""Name -> builder tables for models and datasets: `@REGISTRY.register("name")` on the builder."""

from utils.errors import ConfigError


class Registry:
    """Builders by name; `config_key` names the setting that selects one (for error messages)."""

    def __init__(self, kind, config_key):
        self.kind = kind
        self.config_key = config_key
        self._entries = {}

    def register(self, name):
        def decorator(builder):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = builder
            return builder

        return decorator

    def names(self):
        return sorted(self._entries)

    def get(self, name):
        if name not in self._entries:
            raise ConfigError(
                f"unknown {self.config_key} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            )
        return self._entries[name]
