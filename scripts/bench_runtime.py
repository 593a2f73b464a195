"""A one-event Lambda Runtime API on a loopback port, shared by the bench scripts.

The bench starts a release binary (or the Python yardstick) against it and reads the times from
it: the first `GET /2018-06-01/runtime/invocation/next` (the first poll), which is answered with
the event (or only recorded, when there is no event), and the first response or error POST (the
first answer). Every later poll is held: the process is stopped meanwhile.
"""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OneEvent:
    """Serves `event` (bytes, or None) to function `function` with a deadline `deadline_s` away.

    After the run: `first_poll` and `answered_at` (time.perf_counter() values, None when it did
    not happen), `ok` (the answer was a response, not an error) and `body` (the answer's text);
    `polled` and `answered` are set when those happen.
    """

    def __init__(self, event, function, deadline_s):
        self.event = event
        self.first_poll = None
        self.answered_at = None
        self.ok = None
        self.body = None
        self.polled = threading.Event()
        self.answered = threading.Event()
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if runtime.first_poll is not None:
                    threading.Event().wait(deadline_s)
                    return
                runtime.first_poll = time.perf_counter()
                if runtime.event is None:
                    runtime.polled.set()
                    threading.Event().wait(deadline_s)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
                self.send_header("Lambda-Runtime-Deadline-Ms",
                                 str(int(time.time() * 1000) + int(deadline_s * 1000)))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
                self.send_header("Content-Length", str(len(runtime.event)))
                self.end_headers()
                self.wfile.write(runtime.event)
                runtime.polled.set()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                runtime.answered_at = time.perf_counter()
                runtime.ok = self.path.endswith("/response")
                runtime.body = body.decode("utf-8", "replace")
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                runtime.answered.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        """The value of AWS_LAMBDA_RUNTIME_API."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
