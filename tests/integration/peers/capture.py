"""capture.py - a TCP or TLS listener that records every byte it receives,
for checking framing exactly as it went over the wire.

    cap = Capture()            # plain TCP on a free loopback port
    cap = Capture(pki)         # TLS with pki.server_cert / pki.server_key
    cap.port, cap.bytes(), cap.close()

Connections are served on threads until the client closes; the bytes of
all connections are appended in arrival order.
"""

import socket
import ssl
import threading


class Capture:
    """A one-shot TCP or TLS listener that records every byte it receives."""

    def __init__(self, pki=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.lock = threading.Lock()
        self.ctx = None
        if pki is not None:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(pki.server_cert, pki.server_key)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.ctx is not None:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                with self.lock:
                    self.data += chunk
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def bytes(self):
        with self.lock:
            return self.data

    def close(self):
        self.sock.close()
