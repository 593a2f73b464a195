"""The local AWS emulator for tests and the demo: moto's server, with S3 conditional writes made
atomic.

moto checks `If-Match` / `If-None-Match` and then stores the object without holding a lock, on a
threaded server, so two concurrent compare-and-swap writes can both succeed. Real S3 guarantees
that exactly one wins, and the suite's state store relies on it. This launcher serialises S3
PutObject (check and store together) and otherwise runs moto's own `moto_server` entry point
unchanged, with the same arguments.
"""

import functools
import threading

import moto.s3.responses as s3_responses
from moto.server import main

_PUT_LOCK = threading.Lock()
_original_put_object = s3_responses.S3Response.put_object


@functools.wraps(_original_put_object)
def _atomic_put_object(self, *args, **kwargs):
    with _PUT_LOCK:
        return _original_put_object(self, *args, **kwargs)


s3_responses.S3Response.put_object = _atomic_put_object

if __name__ == "__main__":
    main()
