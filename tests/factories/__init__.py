"""Test data built through the services (never by writing tables directly); one module a domain."""

from tests.factories.catalog import *  # noqa: F403
from tests.factories.customers import *  # noqa: F403
from tests.factories.events import *  # noqa: F403
from tests.factories.orders import *  # noqa: F403
from tests.factories.shops import *  # noqa: F403
from tests.factories.shops import PASSWORD  # noqa: F401
