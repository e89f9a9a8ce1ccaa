from owl.v1 import health_pb2 as _health_pb2
from owl.v1 import sync_pb2 as _sync_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncConnectionRequest(_message.Message):
    __slots__ = ("name", "backfill_range")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_RANGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    backfill_range: _health_pb2.TimeRange
    def __init__(self, name: _Optional[str] = ..., backfill_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ...) -> None: ...

class SyncUserRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SyncUserResponse(_message.Message):
    __slots__ = ("sync_runs",)
    SYNC_RUNS_FIELD_NUMBER: _ClassVar[int]
    sync_runs: _containers.RepeatedCompositeFieldContainer[_sync_pb2.SyncRun]
    def __init__(self, sync_runs: _Optional[_Iterable[_Union[_sync_pb2.SyncRun, _Mapping]]] = ...) -> None: ...

class ListSyncRunsRequest(_message.Message):
    __slots__ = ("parent", "connection", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    connection: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., connection: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSyncRunsResponse(_message.Message):
    __slots__ = ("sync_runs", "next_page_token")
    SYNC_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sync_runs: _containers.RepeatedCompositeFieldContainer[_sync_pb2.SyncRun]
    next_page_token: str
    def __init__(self, sync_runs: _Optional[_Iterable[_Union[_sync_pb2.SyncRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchSyncStatusRequest(_message.Message):
    __slots__ = ("parent", "replay")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    parent: str
    replay: int
    def __init__(self, parent: _Optional[str] = ..., replay: _Optional[int] = ...) -> None: ...
