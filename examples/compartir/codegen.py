"""Rebuild the committed stubs compartir_pb2*.py from compartir.proto.

Usage: ``python examples/compartir/codegen.py``. Committed so a node needs only grpcio (and its
requirements.txt) to run; generated with the grpcio-tools version matching the pinned grpcio.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent  # the stubs import each other as examples.compartir.*
PROTO = HERE / "compartir.proto"


def build(target: Path = REPO) -> int:
    """protoc's exit code; the stubs land in ``target``/examples/compartir/."""
    from grpc_tools import protoc

    args = ["protoc", f"-I{REPO}", f"--python_out={target}", f"--grpc_python_out={target}"]
    return protoc.main([*args, str(PROTO)])


if __name__ == "__main__":
    sys.exit(build())
