"""SQLAlchemy implementations of the services' repository and unit-of-work ports."""
