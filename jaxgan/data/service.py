"""tf.data service: the training input pipeline made by worker processes on other CPU machines.

``--config.data.service=HOST:PORT`` (a dispatcher's address) sends each host's pipeline to the service.
Its batches are handed out dynamically, one global batch number at a time, to whichever worker is free,
and put back in stream order by `pipeline.Batches`, so the stream is the same as without the service
(deterministic, per host, resumable at any step: a resume starts a new job at its step). The workers
run the pipeline's graph, so it must be TensorFlow ops only: folders of JPEG and PNG files, prepared
sets and the in-memory sets are; files that need PIL (other formats) are refused with one line (prepare
them first). Every worker must see the data at the same paths as the trainer.

Run a dispatcher, then workers on as many CPU machines as the accelerators need::

    python -m jaxgan.data.service dispatcher --port 5050
    python -m jaxgan.data.service worker --dispatcher HOST:5050 --port 5051     # on each CPU machine
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from jaxgan.data.tf_host import tensorflow
from jaxgan.errors import DataError

PYTHON_OPS = (b"PyFunc", b"EagerPyFunc")
#: seconds to wait for the dispatcher to answer, and for each batch from the workers, before a `DataError`
CONNECT_S, BATCH_S = 10.0, 300.0


def check_graph(ds: Any) -> None:
    """A `DataError` unless ``ds`` is TensorFlow ops only (service workers cannot run this process's Python)."""
    graph = ds._as_serialized_graph().numpy()         # the GraphDef tf.data service would send
    if any(op in graph for op in PYTHON_OPS):
        raise DataError("data.service: this data set needs Python to decode (image files TensorFlow cannot "
                        "decode alike, such as GIF, TIFF, WebP, palette, alpha or 16-bit images, or an embedded "
                        "set held in this process); prepare it once with `python -m jaxgan.prepare` and train "
                        "on data.source=prepared")


def check_reachable(address: str) -> None:
    """A `DataError` unless something accepts connections at ``address`` within `CONNECT_S` (tf.data
    itself would wait for a missing dispatcher forever)."""
    import socket

    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        socket.create_connection((host or "localhost", int(port)), timeout=CONNECT_S).close()
    except (OSError, ValueError) as e:
        raise DataError(f"data.service={address}: no tf.data service dispatcher answers there ({e}); start one "
                        f"with `python -m jaxgan.data.service dispatcher --port PORT`") from None


def distribute(ds: Any, address: str) -> Any:
    """``ds`` made by the tf.data service at ``address``: its batches handed out dynamically to the workers
    (each made once), uncompressed, in a job of its own (an anonymous job: no other stream shares it)."""
    tf = tensorflow()
    check_graph(ds)
    check_reachable(address)
    target = address if "://" in address else f"grpc://{address}"
    return ds.apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.DYNAMIC, service=target, compression=None))


def start_dispatcher(port: int = 0) -> Any:
    """A dispatcher server in this process (``port`` 0: a free port); its address is ``.target``."""
    tf = tensorflow()
    return tf.data.experimental.service.DispatchServer(tf.data.experimental.service.DispatcherConfig(port=port))


def start_worker(dispatcher: str, port: int = 0, address: str | None = None) -> Any:
    """A worker server in this process, registered with the dispatcher at ``dispatcher`` (``HOST:PORT``);
    ``address`` is the ``HOST:PORT`` the dispatcher and trainers reach it at (default: localhost)."""
    tf = tensorflow()
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=dispatcher.split("://")[-1], port=port,
        **({"worker_address": address} if address else {}))
    return tf.data.experimental.service.WorkerServer(config)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Runs a tf.data service dispatcher or worker for jaxgan's input "
                                            "pipeline (see the module doc).")
    sub = p.add_subparsers(dest="role", required=True)
    d = sub.add_parser("dispatcher", help="the service's dispatcher (one per job)")
    d.add_argument("--port", type=int, default=5050)
    w = sub.add_parser("worker", help="a worker (one per CPU machine)")
    w.add_argument("--dispatcher", required=True, help="the dispatcher's HOST:PORT")
    w.add_argument("--port", type=int, default=5051)
    w.add_argument("--address", default=None,
                   help="HOST:PORT this worker is reached at (default: this machine's name and --port)")
    args = p.parse_args(argv)
    if args.role == "dispatcher":
        server = start_dispatcher(args.port)
    else:
        import socket

        server = start_worker(args.dispatcher, args.port, args.address or f"{socket.getfqdn()}:{args.port}")
    print(f"tf.data service {args.role} serving on port {args.port} (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        del server


if __name__ == "__main__":
    main()
