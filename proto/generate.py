"""Regenerate the committed gRPC stubs from proto/p2p.proto.

Run from anywhere: ``python proto/generate.py``. The stubs are committed (as gRPC's own examples
do) so the node runs without grpcio-tools; ``tests/test_proto.py`` fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(out_dir: Path = ROOT) -> int:
    """Run protoc on proto/p2p.proto, writing proto/p2p_pb2*.py under ``out_dir``."""
    from grpc_tools import protoc

    return protoc.main(
        [
            "protoc",
            f"-I{ROOT}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(ROOT / "proto" / "p2p.proto"),
        ]
    )


if __name__ == "__main__":
    sys.exit(generate())
