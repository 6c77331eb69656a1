"""``python -m examples.compartir --host H --puerto P --puerto-grpc G --carpeta DIR
[--semilla IP:PUERTO ...]``: un nodo de la red compartir."""

from __future__ import annotations

import argparse
import logging

from examples.compartir.nodo import Nodo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.compartir", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="dirección en la que escuchar")
    parser.add_argument("--puerto", type=int, default=5000, help="puerto de la API REST")
    parser.add_argument("--puerto-grpc", type=int, default=50051, help="puerto de las descargas")
    parser.add_argument("--carpeta", default="compartidos", help="carpeta de archivos compartidos")
    parser.add_argument(
        "--semilla", action="append", default=[], help="ip:puerto de un nodo de la red (repetible)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Nodo(args.host, args.puerto, args.puerto_grpc, args.carpeta, args.semilla).arrancar()


if __name__ == "__main__":
    main()
