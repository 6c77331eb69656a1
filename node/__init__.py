"""peerload's peer node: REST (Bottle on gevent) and gRPC file transfer in one process."""

__version__ = "0.1.0"
