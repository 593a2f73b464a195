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

moto's CloudWatch evaluates a metric math expression only when it is another query's id; this
launcher evaluates arithmetic (`+ - * /`, parentheses, numbers, query ids) per timestamp, as
CloudWatch does, leaving out points that divide by zero. Other functions stay unsupported.

moto runs no containers. This launcher lets RunTask start a task whose memory is set for the task
only (as Fargate allows), places a task for EC2 or without a launch type in a cluster without
container instances (moto's services all say EC2) as Fargate places one, gives a task one container per container
definition (moto gives it the first only, with its cpu and memory as numbers where the API has
strings), keeps a started task RUNNING until it is stopped (moto reports
it STOPPED as soon as it is described), and adds one test-only route that plays the container:
`POST /_ops/ecs/stop-task` with the JSON `{"cluster", "task", "container", "exit_code",
"reason"}` (optionally `"region"`, default `us-east-1`) stops the task with that container's exit
code, as a container that exits does.
"""

import functools
import json
import re
import threading

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

import moto.cloudwatch.models as cloudwatch_models
import moto.ecs.models as ecs_models
import moto.kms.models as kms_models
import moto.s3.responses as s3_responses
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.moto_api import state_manager
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
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

# CloudWatch metric math: arithmetic over query results, aligned by timestamp.

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(.))")


def _combine(left, right, op):
    """`op` over two operands, each a number or a series (a dict of timestamp to value)."""

    def apply(a, b):
        try:
            return op(a, b)
        except ZeroDivisionError:
            return None

    if isinstance(left, float) and isinstance(right, float):
        return apply(left, right)
    if isinstance(left, float):
        pairs = {t: apply(left, v) for t, v in right.items()}
    elif isinstance(right, float):
        pairs = {t: apply(v, right) for t, v in left.items()}
    else:
        pairs = {t: apply(v, right[t]) for t, v in left.items() if t in right}
    return {t: v for t, v in pairs.items() if v is not None}


_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def _evaluate(expression, results):
    tokens = []
    for number, name, other in _TOKEN.findall(expression):
        if number:
            tokens.append(("num", float(number)))
        elif name:
            tokens.append(("id", name))
        elif other.strip():
            tokens.append(("op", other))
    position = [0]

    def peek():
        return tokens[position[0]] if position[0] < len(tokens) else (None, None)

    def take():
        token = peek()
        position[0] += 1
        return token

    def series_of(name):
        for result in results:
            if result.get("id") == name:
                return dict(zip(result["timestamps"], map(float, result["values"])))
        raise ValueError(name)

    def atom():
        kind, value = take()
        if kind == "num":
            return value
        if kind == "id":
            return series_of(value)
        if (kind, value) == ("op", "-"):
            return _combine(-1.0, atom(), _OPS["*"])
        if (kind, value) == ("op", "("):
            inner = binary(0)
            if take() != ("op", ")"):
                raise ValueError(expression)
            return inner
        raise ValueError(expression)

    levels = [("+", "-"), ("*", "/")]

    def binary(level):
        if level == len(levels):
            return atom()
        left = binary(level + 1)
        while peek()[0] == "op" and peek()[1] in levels[level]:
            _, op = take()
            left = _combine(left, binary(level + 1), _OPS[op])
        return left

    value = binary(0)
    if position[0] != len(tokens) or isinstance(value, float):
        raise ValueError(expression)
    return value


_original_parse_expression = cloudwatch_models.parse_expression


def _parse_expression(expression, results):
    try:
        series = _evaluate(expression, results)
    except ValueError:
        return _original_parse_expression(expression, results)
    timestamps = sorted(series)
    return [series[t] for t in timestamps], timestamps


cloudwatch_models.parse_expression = _parse_expression


# ECS: one container per container definition, tasks RUNNING until stopped, and a route that
# stops a task with a container's exit code.

state_manager.register_default_transition(
    model_name="ecs::task", transition={"progression": "manual", "times": 2**62}
)

_original_task_init = ecs_models.Task.__init__


@functools.wraps(_original_task_init)
def _task_init(self, cluster, task_definition, *args, **kwargs):
    _original_task_init(self, cluster, task_definition, *args, **kwargs)
    containers = []
    for definition in task_definition.container_definitions:
        container = ecs_models.Container(task_definition)
        container.name = definition.get("name")
        container.image = definition.get("image")
        container.command = definition.get("command")
        # The API's Container has cpu and memory as strings; moto answers numbers, which strict
        # clients (the Rust SDK) cannot read.
        container.cpu = None if definition.get("cpu") is None else str(definition["cpu"])
        container.memory = None if definition.get("memory") is None else str(definition["memory"])
        container.last_status = "RUNNING"
        container.exitCode = None
        containers.append(container)
    self.containers = containers


ecs_models.Task.__init__ = _task_init

_original_requirements = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements


def _task_resource_requirements(task_definition):
    # ECS accepts memory set for the task only (Fargate); moto requires it per container.
    try:
        return _original_requirements(task_definition)
    except TypeError:
        return {
            "CPU": int(task_definition.cpu or 0),
            "MEMORY": int(task_definition.memory or 0),
            "PORTS": [],
            "PORTS_UDP": [],
        }


ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
    _task_resource_requirements
)

_original_run_task = ecs_models.EC2ContainerServiceBackend.run_task


@functools.wraps(_original_run_task)
def _run_task(
    self,
    cluster_str,
    task_definition_str,
    count,
    overrides,
    started_by,
    tags,
    launch_type,
    *args,
    **kwargs,
):
    # A task for EC2 (or without a launch type: moto's services say EC2) in a cluster without
    # container instances is placed as Fargate places one, keeping the launch type asked for;
    # moto fails such a RunTask with a 500, which no client can read.
    fargate = launch_type in (None, "", "EC2") and not self.container_instances.get(
        self._get_cluster(cluster_str).name
    )
    tasks = _original_run_task(
        self,
        cluster_str,
        task_definition_str,
        count,
        overrides,
        started_by,
        tags,
        "FARGATE" if fargate else launch_type,
        *args,
        **kwargs,
    )
    if fargate:
        for task in tasks:
            task.launch_type = launch_type or ""
    return tasks


ecs_models.EC2ContainerServiceBackend.run_task = _run_task


def _answer(status, body):
    return Response(json.dumps(body), status, mimetype="application/json")


def _stop_task(request):
    try:
        body = json.loads(request.get_data() or b"{}")
        backend = ecs_models.ecs_backends[DEFAULT_ACCOUNT_ID][body.get("region", "us-east-1")]
        exit_code = int(body["exit_code"])
        task = backend.stop_task(body["cluster"], body["task"], body.get("reason", ""))
    except Exception as error:  # the test asked for something that is not there
        return _answer(400, {"error": str(error)})
    found = False
    for container in task.containers:
        container.last_status = "STOPPED"
        if container.name == body.get("container"):
            container.exitCode = exit_code
            found = True
    if not found:
        return _answer(400, {"error": "no such container in the task"})
    return _answer(200, {"task": task.task_arn})


_ROUTES = {"/_ops/ecs/stop-task": _stop_task}
_original_call = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    route = _ROUTES.get(environ.get("PATH_INFO", ""))
    if route is not None and environ.get("REQUEST_METHOD") == "POST":
        return route(Request(environ))(environ, start_response)
    return _original_call(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call

if __name__ == "__main__":
    main()
