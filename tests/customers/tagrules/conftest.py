"""The logged-in console client of the web tests, for the tag-rule and RFM pages."""

from tests.web.conftest import console  # noqa: F401
