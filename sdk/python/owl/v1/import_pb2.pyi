import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_FORMAT_UNSPECIFIED: _ClassVar[ImportFormat]
    IMPORT_FORMAT_APPLE_HEALTH: _ClassVar[ImportFormat]

class ImportStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_STAGE_UNSPECIFIED: _ClassVar[ImportStage]
    IMPORT_STAGE_RECEIVING: _ClassVar[ImportStage]
    IMPORT_STAGE_QUEUED: _ClassVar[ImportStage]
    IMPORT_STAGE_PARSING: _ClassVar[ImportStage]
    IMPORT_STAGE_SUCCEEDED: _ClassVar[ImportStage]
    IMPORT_STAGE_FAILED: _ClassVar[ImportStage]
IMPORT_FORMAT_UNSPECIFIED: ImportFormat
IMPORT_FORMAT_APPLE_HEALTH: ImportFormat
IMPORT_STAGE_UNSPECIFIED: ImportStage
IMPORT_STAGE_RECEIVING: ImportStage
IMPORT_STAGE_QUEUED: ImportStage
IMPORT_STAGE_PARSING: ImportStage
IMPORT_STAGE_SUCCEEDED: ImportStage
IMPORT_STAGE_FAILED: ImportStage

class Import(_message.Message):
    __slots__ = ("name", "format", "stage", "bytes_received", "total_bytes", "bytes_parsed", "sha256", "records_parsed", "samples_stored", "events_stored", "skipped", "skipped_total", "error", "error_location", "create_time", "upload_complete_time", "finish_time", "update_time")
    class SkippedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    BYTES_PARSED_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    RECORDS_PARSED_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_STORED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_STORED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_LOCATION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    format: ImportFormat
    stage: ImportStage
    bytes_received: int
    total_bytes: int
    bytes_parsed: int
    sha256: str
    records_parsed: int
    samples_stored: int
    events_stored: int
    skipped: _containers.ScalarMap[str, int]
    skipped_total: int
    error: str
    error_location: ImportErrorLocation
    create_time: _timestamp_pb2.Timestamp
    upload_complete_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., format: _Optional[_Union[ImportFormat, str]] = ..., stage: _Optional[_Union[ImportStage, str]] = ..., bytes_received: _Optional[int] = ..., total_bytes: _Optional[int] = ..., bytes_parsed: _Optional[int] = ..., sha256: _Optional[str] = ..., records_parsed: _Optional[int] = ..., samples_stored: _Optional[int] = ..., events_stored: _Optional[int] = ..., skipped: _Optional[_Mapping[str, int]] = ..., skipped_total: _Optional[int] = ..., error: _Optional[str] = ..., error_location: _Optional[_Union[ImportErrorLocation, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., upload_complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ImportErrorLocation(_message.Message):
    __slots__ = ("line", "column", "byte_offset")
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    BYTE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    line: int
    column: int
    byte_offset: int
    def __init__(self, line: _Optional[int] = ..., column: _Optional[int] = ..., byte_offset: _Optional[int] = ...) -> None: ...

class Upload(_message.Message):
    __slots__ = ("name", "next_offset", "total_bytes", "complete")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMPORT_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    name: str
    next_offset: int
    total_bytes: int
    complete: bool
    def __init__(self, name: _Optional[str] = ..., next_offset: _Optional[int] = ..., total_bytes: _Optional[int] = ..., complete: _Optional[bool] = ..., **kwargs) -> None: ...
