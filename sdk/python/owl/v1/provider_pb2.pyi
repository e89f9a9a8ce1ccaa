import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_MODE_UNSPECIFIED: _ClassVar[SyncMode]
    SYNC_MODE_PULL: _ClassVar[SyncMode]
    SYNC_MODE_WEBHOOK: _ClassVar[SyncMode]
SYNC_MODE_UNSPECIFIED: SyncMode
SYNC_MODE_PULL: SyncMode
SYNC_MODE_WEBHOOK: SyncMode

class Provider(_message.Message):
    __slots__ = ("name", "display_name", "capabilities", "configured", "enabled", "sync_mode", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SYNC_MODE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    capabilities: ProviderCapabilities
    configured: bool
    enabled: bool
    sync_mode: SyncMode
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., capabilities: _Optional[_Union[ProviderCapabilities, _Mapping]] = ..., configured: _Optional[bool] = ..., enabled: _Optional[bool] = ..., sync_mode: _Optional[_Union[SyncMode, str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProviderCapabilities(_message.Message):
    __slots__ = ("pull", "push", "data_types", "backfill_days", "pkce")
    PULL_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPES_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_DAYS_FIELD_NUMBER: _ClassVar[int]
    PKCE_FIELD_NUMBER: _ClassVar[int]
    pull: bool
    push: bool
    data_types: _containers.RepeatedScalarFieldContainer[str]
    backfill_days: int
    pkce: bool
    def __init__(self, pull: _Optional[bool] = ..., push: _Optional[bool] = ..., data_types: _Optional[_Iterable[str]] = ..., backfill_days: _Optional[int] = ..., pkce: _Optional[bool] = ...) -> None: ...
