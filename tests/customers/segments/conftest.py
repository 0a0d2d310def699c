from tests.customers.conftest import pii_cipher  # noqa: F401  (customers tests encrypt PII)
