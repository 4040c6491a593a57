"""Serve a :class:`~peftal.serve.app.PredictionApp` with waitress, and stop it gracefully.

waitress is a production WSGI server (used under Pyramid and Plone deployments) written in pure
Python: it installs everywhere peftal does (no compiler, Windows included), bounds request sizes and
connections, and its thread pool suits a model behind one batching thread. An ASGI server would add an
event loop and nothing the batcher needs.

Shutdown on SIGTERM (or Ctrl-C): requests already received are answered, new predictions get a 503
(retry elsewhere) instead of a reset connection, and once no request is in flight and every answer
has been written (or after ``grace`` seconds) the listening socket closes and the process exits.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from peftal.serve.app import PredictionApp


def serve(app: PredictionApp, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 16,
          grace: float = 30.0, on_ready: Any = None) -> None:
    """Serve ``app`` until SIGTERM or SIGINT; ``on_ready(port)`` is called once it listens."""
    import logging

    from waitress import create_server
    from waitress.wasyncore import loop

    # "Task queue depth is N" is waitress saying requests wait for a thread: with a batcher behind
    # the threads that is the design, not an overload
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    server = create_server(app, host=host, port=port, threads=threads, ident="peftal",
                           max_request_body_size=app.limits.max_body_bytes * 2,  # the app says 413 first
                           connection_limit=1000, channel_timeout=120)
    stop = threading.Event()
    done = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        if stop.is_set():
            return
        stop.set()
        app.draining = True  # new predictions get a 503 that sends them elsewhere, not a reset
        threading.Thread(target=_drain, daemon=True).start()

    def _quiet() -> bool:
        """No request in the app, none queued or running in waitress' threads (a task writes its
        answer after the app returns), and every answer sent."""
        dispatcher = server.task_dispatcher
        channels = [c for c in list(server._map.values()) if c is not server]
        return (app.idle.is_set() and dispatcher.active_count == 0 and not dispatcher.queue
                and all(getattr(c, "total_outbufs_len", 0) == 0 and not getattr(c, "requests", [])
                        for c in channels))

    def _drain() -> None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _quiet():
                time.sleep(0.05)
                if _quiet():  # twice: a request read just now is not lost between two looks
                    break
            time.sleep(0.02)
        done.set()
        server.pull_trigger()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_ready is not None:
            on_ready(server.effective_port)
        while not done.is_set():
            loop(timeout=0.2, map=server._map, use_poll=True, count=1)
        server.accepting = False  # quiet: no new connections from here on
        server.del_channel()
        server.socket.close()
        _flush(server, loop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.task_dispatcher.shutdown()
        app.batcher.close()
        print("peftal serve: stopped", file=sys.stderr, flush=True)


def _flush(server: Any, loop: Any) -> None:
    """A few more turns of the I/O loop so the last answers leave their buffers."""
    for _ in range(50):
        pending = [c for c in list(server._map.values()) if getattr(c, "total_outbufs_len", 0)]
        if not pending:
            return
        loop(timeout=0.05, map=server._map, use_poll=True, count=1)
