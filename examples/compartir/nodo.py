"""Un nodo de la red compartir: API REST con Flask, descargas por gRPC, búsqueda por inundación.

Fase 1: el nodo se llama por su dirección ``ip:puerto`` (la de su API REST). Al arrancar se
registra en cada semilla que le dan (``POST /registrar``) y la anota como vecina; la semilla lo
agrega a sus vecinos. La lista de vecinos no se guarda en disco ni se revisa: un vecino queda en
ella hasta que el proceso termina.

Fase 2: ``GET /buscar?termino=&ttl=`` busca en el índice propio y manda la consulta a cada vecino
(``POST /consulta``) con el TTL menos uno y un id; una consulta con un id ya visto no se contesta
otra vez. El índice vive en memoria y está vacío hasta ``POST /indexar``.

Fase 3: ``Transferencia.Descargar`` (gRPC, compartir.proto) manda un archivo en trozos.
Subidas: ``POST /subir`` con un formulario multipart (campo ``archivo``).
"""

from __future__ import annotations

import logging
import uuid
from concurrent import futures
from pathlib import Path

import grpc
import requests
from flask import Flask, request
from werkzeug.utils import secure_filename

from examples.compartir import compartir_pb2, compartir_pb2_grpc

TTL_POR_DEFECTO = 3
TTL_MAXIMO = 7
ESPERA = 5  # segundos que esperamos a un vecino
TROZO = 1024 * 1024  # bytes por mensaje de gRPC
HILOS_GRPC = 10  # descargas a la vez

log = logging.getLogger("compartir")


class Nodo:
    """El estado de un nodo: sus vecinos, su índice y las consultas que ya vio."""

    def __init__(self, host: str, puerto: int, puerto_grpc: int, carpeta: str, semillas: list):
        self.host = host
        self.puerto = puerto
        self.direccion = f"{host}:{puerto}"  # el nombre del nodo en la red
        self.grpc = f"{host}:{puerto_grpc}"
        self.carpeta = Path(carpeta)
        self.semillas = semillas
        self.vecinos = []  # direcciones ip:puerto
        self.indice = {}  # nombre -> tamaño en bytes
        self.vistas = set()  # ids de consultas ya contestadas

    # --- fase 1: unirse a la red -----------------------------------------------------------
    def registrarse(self):
        for semilla in self.semillas:
            self.agregar_vecino(semilla)
            try:
                url = f"http://{semilla}/registrar"
                requests.post(url, json={"direccion": self.direccion}, timeout=ESPERA)
            except requests.RequestException as e:
                log.warning("no me pude registrar en %s: %s", semilla, e)

    def agregar_vecino(self, direccion: str):
        if direccion != self.direccion and direccion not in self.vecinos:
            self.vecinos.append(direccion)
            log.info("vecino nuevo: %s", direccion)

    def indexar(self):
        self.carpeta.mkdir(parents=True, exist_ok=True)
        self.indice = {a.name: a.stat().st_size for a in self.carpeta.iterdir() if a.is_file()}
        log.info("%d archivos indexados", len(self.indice))

    # --- fase 2: búsqueda por inundación ---------------------------------------------------
    def inundar(self, id_consulta: str, termino: str, ttl: int, saltos: int, desde: str | None):
        """Los resultados propios y los de los vecinos (que reenvían mientras quede TTL)."""
        self.vistas.add(id_consulta)
        resultados = [
            {"nodo": self.direccion, "nombre": nombre, "tamano": tamano, "saltos": saltos,
             "grpc": self.grpc}
            for nombre, tamano in self.indice.items()
            if termino.lower() in nombre.lower()
        ]  # fmt: skip
        if ttl > 0:
            for vecino in list(self.vecinos):
                if vecino == desde:
                    continue
                mensaje = {"id": id_consulta, "termino": termino, "ttl": ttl - 1,
                           "saltos": saltos + 1, "desde": self.direccion}  # fmt: skip
                try:
                    r = requests.post(f"http://{vecino}/consulta", json=mensaje, timeout=ESPERA)
                    resultados.extend(r.json()["resultados"])
                except (requests.RequestException, ValueError, KeyError) as e:
                    log.warning("el vecino %s no contestó: %s", vecino, e)
        return resultados

    # --- arranque --------------------------------------------------------------------------
    def arrancar(self):
        servidor = grpc.server(futures.ThreadPoolExecutor(max_workers=HILOS_GRPC))
        compartir_pb2_grpc.add_TransferenciaServicer_to_server(Transferencia(self), servidor)
        servidor.add_insecure_port(self.grpc)
        servidor.start()
        self.registrarse()
        log.info("nodo %s listo, gRPC en %s", self.direccion, self.grpc)
        crear_app(self).run(host=self.host, port=self.puerto, threaded=True)


# --- fase 3: descargas ---------------------------------------------------------------------
class Transferencia(compartir_pb2_grpc.TransferenciaServicer):
    def __init__(self, nodo: Nodo):
        self.nodo = nodo

    def Descargar(self, pedido, context):  # noqa: N802 - el nombre del rpc
        if pedido.nombre not in self.nodo.indice:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no tengo {pedido.nombre}")
        with open(self.nodo.carpeta / pedido.nombre, "rb") as archivo:
            while datos := archivo.read(TROZO):
                yield compartir_pb2.Trozo(datos=datos)


# --- API REST ------------------------------------------------------------------------------
def crear_app(nodo: Nodo) -> Flask:
    app = Flask(__name__)

    @app.get("/estado")
    def estado():
        return {
            "nodo": nodo.direccion,
            "grpc": nodo.grpc,
            "vecinos": len(nodo.vecinos),
            "archivos": len(nodo.indice),
        }

    @app.post("/registrar")
    def registrar():
        datos = request.get_json(silent=True) or {}
        if not datos.get("direccion"):
            return {"error": "falta la direccion"}, 400
        nodo.agregar_vecino(datos["direccion"])
        return {"ok": True}

    @app.get("/vecinos")
    def vecinos():
        return {"vecinos": nodo.vecinos}

    @app.post("/indexar")
    def indexar():
        nodo.indexar()
        return {"archivos": len(nodo.indice)}

    @app.get("/archivos")
    def archivos():
        return {"archivos": [{"nombre": n, "tamano": t} for n, t in sorted(nodo.indice.items())]}

    @app.post("/subir")
    def subir():
        archivo = request.files.get("archivo")
        if archivo is None or not archivo.filename:
            return {"error": "falta el archivo"}, 400
        nombre = secure_filename(archivo.filename)
        ruta = nodo.carpeta / nombre
        archivo.save(ruta)
        nodo.indice[nombre] = ruta.stat().st_size
        return {"nombre": nombre, "tamano": nodo.indice[nombre]}, 201

    @app.get("/buscar")
    def buscar():
        termino = request.args.get("termino", "").strip()
        if not termino:
            return {"error": "falta el termino"}, 400
        ttl = min(int(request.args.get("ttl", TTL_POR_DEFECTO)), TTL_MAXIMO)
        id_consulta = uuid.uuid4().hex
        resultados = nodo.inundar(id_consulta, termino, ttl, 0, None)
        return {"id": id_consulta, "termino": termino, "resultados": resultados}

    @app.post("/consulta")
    def consulta():
        m = request.get_json()
        if m["id"] in nodo.vistas:
            return {"resultados": []}
        resultados = nodo.inundar(m["id"], m["termino"], m["ttl"], m["saltos"], m["desde"])
        return {"resultados": resultados}

    return app
