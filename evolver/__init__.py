"""evolver: evolve Python source code safely."""

from ._config import RunConfig, build_config
from ._errors import ConfigError, EvolverError, OriginalFailsError

__all__ = ["ConfigError", "EvolverError", "OriginalFailsError", "RunConfig", "build_config"]
