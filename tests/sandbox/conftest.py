"""The simulated supplier over real HTTP, as the fulfillment tests use it."""

from tests.fulfillment.conftest import sim_factory  # noqa: F401 - a fixture
