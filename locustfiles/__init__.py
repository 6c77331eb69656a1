"""The Phase 4 Locust suite: users, load shape, gRPC client, monitor and run lifecycle.

``locustfiles/phase4.py`` is the locustfile; it only declares what this package provides.
"""
