"""The service's door into a cluster node VM: POST /exec runs a script as the application
user in the login environment, as `docker exec` does for a node container on the local cloud.

Only the service knows the bearer token (the cluster's node secret, given to the node by its
instance metadata), and the deployment's firewall lets only the service reach the port.
Started by the entrypoint when HB_EXEC_TOKEN is set; nodes on the local cloud run without it.
Standard library only: the node image has no web framework outside the Hail venv.
"""

import hmac
import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ["HB_EXEC_TOKEN"].encode()
PORT = int(os.environ.get("HB_EXEC_PORT", "8099"))
HAIL_HOME = os.environ.get("HAIL_HOME", "/hail")
MAX_BODY = 1 << 20  # a script, not a file
MAX_OUTPUT = 4 << 20  # each of stdout and stderr, truncated beyond
MAX_TIMEOUT_S = 3600


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):  # the command, never its text, in the node's log
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/exec":
            return self.reply(404, {"error": "not found"})
        given = self.headers.get("authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(given, TOKEN):
            return self.reply(401, {"error": "unauthorized"})
        try:
            length = int(self.headers.get("content-length", "0"))
            if length < 0 or length > MAX_BODY:
                return self.reply(413, {"error": "body too large"})
            req = json.loads(self.rfile.read(length) or b"{}")
            script = req["script"]
            timeout = float(req.get("timeout_s", 120))
            if not isinstance(script, str) or not 0 < timeout <= MAX_TIMEOUT_S:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": "expected {script: string, timeout_s?: 0-3600}"})
        try:
            done = subprocess.run(
                ["runuser", "-u", "hail", "--", "bash", "-lc", script],
                cwd=HAIL_HOME,
                capture_output=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return self.reply(504, {"error": f"timed out after {timeout:g} s"})
        self.reply(
            200,
            {
                "exit_code": done.returncode,
                "stdout": done.stdout[:MAX_OUTPUT].decode("utf-8", "replace"),
                "stderr": done.stderr[:MAX_OUTPUT].decode("utf-8", "replace"),
            },
        )


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
