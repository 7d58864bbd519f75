"""nox sessions, one module per phase family; importing a module registers its sessions."""

from sessions.baseline import *  # noqa: F403
from sessions.bench import *  # noqa: F403
from sessions.pipeline import *  # noqa: F403
from sessions.profiling import *  # noqa: F403
from sessions.services import *  # noqa: F403
