import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from owl.v1 import health_pb2 as _health_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_SOURCE_UNSPECIFIED: _ClassVar[SyncSource]
    SYNC_SOURCE_PULL: _ClassVar[SyncSource]
    SYNC_SOURCE_WEBHOOK: _ClassVar[SyncSource]
    SYNC_SOURCE_SDK: _ClassVar[SyncSource]
    SYNC_SOURCE_BACKFILL: _ClassVar[SyncSource]
    SYNC_SOURCE_IMPORT: _ClassVar[SyncSource]

class SyncState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_STATE_UNSPECIFIED: _ClassVar[SyncState]
    SYNC_STATE_QUEUED: _ClassVar[SyncState]
    SYNC_STATE_RUNNING: _ClassVar[SyncState]
    SYNC_STATE_SUCCEEDED: _ClassVar[SyncState]
    SYNC_STATE_FAILED: _ClassVar[SyncState]
SYNC_SOURCE_UNSPECIFIED: SyncSource
SYNC_SOURCE_PULL: SyncSource
SYNC_SOURCE_WEBHOOK: SyncSource
SYNC_SOURCE_SDK: SyncSource
SYNC_SOURCE_BACKFILL: SyncSource
SYNC_SOURCE_IMPORT: SyncSource
SYNC_STATE_UNSPECIFIED: SyncState
SYNC_STATE_QUEUED: SyncState
SYNC_STATE_RUNNING: SyncState
SYNC_STATE_SUCCEEDED: SyncState
SYNC_STATE_FAILED: SyncState

class SyncRun(_message.Message):
    __slots__ = ("name", "connection", "provider", "source", "state", "stage", "progress_percent", "items_processed", "items_total", "error", "attempts", "backfill_range", "create_time", "start_time", "finish_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_RANGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    connection: str
    provider: str
    source: SyncSource
    state: SyncState
    stage: str
    progress_percent: float
    items_processed: int
    items_total: int
    error: str
    attempts: int
    backfill_range: _health_pb2.TimeRange
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., connection: _Optional[str] = ..., provider: _Optional[str] = ..., source: _Optional[_Union[SyncSource, str]] = ..., state: _Optional[_Union[SyncState, str]] = ..., stage: _Optional[str] = ..., progress_percent: _Optional[float] = ..., items_processed: _Optional[int] = ..., items_total: _Optional[int] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., backfill_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
