from owl.v1 import mobile_health_pb2 as _mobile_health_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PushHealthBatchRequest(_message.Message):
    __slots__ = ("parent", "batch")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    parent: str
    batch: _mobile_health_pb2.HealthBatch
    def __init__(self, parent: _Optional[str] = ..., batch: _Optional[_Union[_mobile_health_pb2.HealthBatch, _Mapping]] = ...) -> None: ...

class PushHealthBatchResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _mobile_health_pb2.HealthBatchResult
    def __init__(self, result: _Optional[_Union[_mobile_health_pb2.HealthBatchResult, _Mapping]] = ...) -> None: ...

class StreamHealthBatchesRequest(_message.Message):
    __slots__ = ("parent", "batch")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    parent: str
    batch: _mobile_health_pb2.HealthBatch
    def __init__(self, parent: _Optional[str] = ..., batch: _Optional[_Union[_mobile_health_pb2.HealthBatch, _Mapping]] = ...) -> None: ...

class StreamHealthBatchesResponse(_message.Message):
    __slots__ = ("results", "total")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_mobile_health_pb2.HealthBatchResult]
    total: _mobile_health_pb2.HealthBatchResult
    def __init__(self, results: _Optional[_Iterable[_Union[_mobile_health_pb2.HealthBatchResult, _Mapping]]] = ..., total: _Optional[_Union[_mobile_health_pb2.HealthBatchResult, _Mapping]] = ...) -> None: ...
