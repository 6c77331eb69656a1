"""Example networks that peerload can load, break and judge (not part of peerload itself)."""
