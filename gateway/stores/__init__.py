"""Storage: each module keeps one area. Functions take the session first, then keywords.

Stores never decide who may do what (that is gateway.authz, called by the handlers)
and never publish events (handlers do, after commit).
"""
