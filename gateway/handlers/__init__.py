"""Handlers decide what to do: they check permissions (via gateway.authz), run one
transaction through the stores, and publish events after it commits."""
