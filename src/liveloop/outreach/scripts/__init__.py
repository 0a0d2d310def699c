"""The script library (话术库): ready answers for customer service, filled per customer."""
