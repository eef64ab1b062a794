"""The ClickHouse HTTP interface, as the `clickhouse` crate uses it, in front of one chdb
session (the current ClickHouse engine, data on disk). Test support only, loopback only.

    shim.py --data DIR --listen PORT=USERS.json [--listen PORT=USERS.json ...]

Each port has its own user table ({"user": "password"}) over the same data, so one process
serves both a server whose `default` login is locked and one left at the defaults.
"""

import argparse
import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import chdb
import chdb.session

VERSION = chdb.engine_version if hasattr(chdb, "engine_version") else "26.9"
LOCK = threading.Lock()  # one chdb session; queries run one at a time
SESSION = None

FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
CODE = re.compile(r"Code:\s*(\d+)")


def exception_text(code, text):
    return f"Code: {code}. DB::Exception: {text}. (version {VERSION} (official build))\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    users = {}

    def log_message(self, fmt, *args):  # keep the test logs quiet
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-ClickHouse-Server-Display-Name", "chdb-shim")
        self.end_headers()
        self.wfile.write(body)

    def fail(self, status, code, text):
        body = exception_text(code, text).encode()
        self.send(status, body, [("Content-Type", "text/plain; charset=UTF-8"), ("X-ClickHouse-Exception-Code", str(code))])

    def credentials(self, params):
        user = self.headers.get("X-ClickHouse-User")
        key = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        if user is None and auth.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, key = None, None
        if user is None:
            user = params.get("user", ["default"])[0]
            key = params.get("password", [""])[0]
        return user or "default", key or ""

    def handle_any(self, body):
        url = urlparse(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        if url.path in ("/ping", "/") and not params.get("query") and not body:
            return self.send(200, b"Ok.\n", [("Content-Type", "text/plain; charset=UTF-8")])
        user, key = self.credentials(params)
        if self.users.get(user) != key:
            return self.fail(
                401,
                516,
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name (AUTHENTICATION_FAILED)",
            )
        sql = params.get("query", [""])[0]
        if body:
            sql = f"{sql}\n{body.decode()}" if sql else body.decode()
        sql = sql.strip()
        if not sql:
            return self.fail(400, 62, "Empty query (SYNTAX_ERROR)")
        m = FORMAT_CLAUSE.search(sql)
        if m:
            fmt, sql = m.group(1), sql[: m.start()]
        else:
            fmt = params.get("default_format", ["TabSeparated"])[0]
        # The session is shared: every request sets its own database, as a server's would be.
        database = params.get("database", ["default"])[0] or "default"
        try:
            with LOCK:
                SESSION.query(f"USE `{database}`")
                res = SESSION.query(sql, fmt)
                data = res.bytes() if res is not None else b""
        except Exception as e:  # chdb raises the server's own exception text
            text = str(e).strip()
            m = CODE.search(text)
            code = int(m.group(1)) if m else 1002
            body = (text if text.startswith("Code:") else exception_text(code, text).strip()) + "\n"
            return self.send(
                500 if code not in (60, 81) else 404,
                body.encode(),
                [("Content-Type", "text/plain; charset=UTF-8"), ("X-ClickHouse-Exception-Code", str(code))],
            )
        self.send(200, data, [("Content-Type", "application/octet-stream"), ("X-ClickHouse-Format", fmt)])

    def do_GET(self):
        self.handle_any(b"")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(n) if n else b""
        self.handle_any(body)


def main():
    global SESSION
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--listen", action="append", required=True, help="PORT=USERS.json")
    args = ap.parse_args()
    SESSION = chdb.session.Session(args.data)
    servers = []
    for spec in args.listen:
        port, users_file = spec.split("=", 1)
        with open(users_file) as f:
            users = json.load(f)
        handler = type(f"Handler{port}", (Handler,), {"users": users})
        srv = ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
        srv.daemon_threads = True
        servers.append(srv)
    for srv in servers[1:]:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
