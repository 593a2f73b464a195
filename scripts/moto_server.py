"""The local AWS emulator for tests and the demo: moto's server, with S3 conditional writes made
atomic and KMS refusing keys that are not enabled.

moto checks `If-Match` / `If-None-Match` and then stores the object without holding a lock, on a
threaded server, so two concurrent compare-and-swap writes can both succeed. Real S3 guarantees
that exactly one wins, and the suite's state store relies on it. This launcher serialises S3
PutObject (check and store together) and otherwise runs moto's own `moto_server` entry point
unchanged, with the same arguments.

moto's KMS also encrypts and decrypts with a disabled key or one pending deletion; AWS answers
`DisabledException` / `KMSInvalidStateException`. The backup function's promise that a backup
is useless without the key is tested by disabling the key, so this launcher makes KMS refuse
the same way.

moto also asks a CopyObject that sets an Object Lock retention for the `Content-MD5` /
`x-amz-sdk-checksum-algorithm` header S3 requires of uploads with a body (PutObject, UploadPart);
a copy has no body to checksum, and S3 does not ask it. This launcher lets such copies through.
"""

import functools
import threading

from werkzeug.datastructures import Headers

import moto.kms.models as kms_models
import moto.s3.responses as s3_responses
from moto.core.exceptions import JsonRESTError
from moto.server import main

_PUT_LOCK = threading.Lock()
_original_put_object = s3_responses.S3Response.put_object
_original_key_response_put = s3_responses.S3Response._key_response_put


@functools.wraps(_original_key_response_put)
def _key_response_put(self, *args, **kwargs):
    headers = self.headers
    if (
        "x-amz-copy-source" in headers
        and "x-amz-object-lock-mode" in headers
        and not headers.get("Content-Md5")
        and not headers.get("x-amz-sdk-checksum-algorithm")
    ):
        relaxed = Headers(headers)
        relaxed["x-amz-sdk-checksum-algorithm"] = headers.get("x-amz-checksum-algorithm", "SHA256")
        self.headers = relaxed
    return _original_key_response_put(self, *args, **kwargs)


s3_responses.S3Response._key_response_put = _key_response_put


@functools.wraps(_original_put_object)
def _atomic_put_object(self, *args, **kwargs):
    with _PUT_LOCK:
        return _original_put_object(self, *args, **kwargs)


s3_responses.S3Response.put_object = _atomic_put_object


class _KeyStateError(JsonRESTError):
    code = 400


def _check_enabled(backend, key_id):
    key = backend.keys.get(key_id)
    if key is None:
        return
    if key.key_state == "Disabled":
        raise _KeyStateError("DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise _KeyStateError("KMSInvalidStateException", f"{key.arn} is {key.key_state}.")


_original_generate_data_key = kms_models.KmsBackend.generate_data_key
_original_decrypt = kms_models.KmsBackend.decrypt


@functools.wraps(_original_generate_data_key)
def _generate_data_key(self, key_id, *args, **kwargs):
    _check_enabled(self, self.any_id_to_key_id(key_id))
    return _original_generate_data_key(self, key_id, *args, **kwargs)


@functools.wraps(_original_decrypt)
def _decrypt(self, *args, **kwargs):
    plaintext, arn = _original_decrypt(self, *args, **kwargs)
    _check_enabled(self, arn.split("/")[-1])
    return plaintext, arn


kms_models.KmsBackend.generate_data_key = _generate_data_key
kms_models.KmsBackend.decrypt = _decrypt

if __name__ == "__main__":
    main()
