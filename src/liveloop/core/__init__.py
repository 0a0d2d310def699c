"""Infrastructure every domain stands on: settings, database, bus, jobs, security, errors."""
