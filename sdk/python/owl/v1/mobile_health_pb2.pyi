import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from owl.v1 import health_pb2 as _health_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthPlatform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_PLATFORM_UNSPECIFIED: _ClassVar[HealthPlatform]
    HEALTH_PLATFORM_HEALTHKIT: _ClassVar[HealthPlatform]
    HEALTH_PLATFORM_HEALTH_CONNECT: _ClassVar[HealthPlatform]

class RecordKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_KIND_UNSPECIFIED: _ClassVar[RecordKind]
    RECORD_KIND_SAMPLE: _ClassVar[RecordKind]
    RECORD_KIND_SLEEP_SEGMENT: _ClassVar[RecordKind]
    RECORD_KIND_WORKOUT: _ClassVar[RecordKind]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_TYPE: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_UNIT: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_VALUE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_TIME: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_SOURCE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_ZONE_OFFSET: _ClassVar[RejectReason]
HEALTH_PLATFORM_UNSPECIFIED: HealthPlatform
HEALTH_PLATFORM_HEALTHKIT: HealthPlatform
HEALTH_PLATFORM_HEALTH_CONNECT: HealthPlatform
RECORD_KIND_UNSPECIFIED: RecordKind
RECORD_KIND_SAMPLE: RecordKind
RECORD_KIND_SLEEP_SEGMENT: RecordKind
RECORD_KIND_WORKOUT: RecordKind
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_UNKNOWN_TYPE: RejectReason
REJECT_REASON_UNKNOWN_UNIT: RejectReason
REJECT_REASON_INVALID_VALUE: RejectReason
REJECT_REASON_INVALID_TIME: RejectReason
REJECT_REASON_INVALID_SOURCE: RejectReason
REJECT_REASON_INVALID_ZONE_OFFSET: RejectReason

class HealthBatch(_message.Message):
    __slots__ = ("platform", "source", "samples", "sleep_segments", "workouts")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SLEEP_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    WORKOUTS_FIELD_NUMBER: _ClassVar[int]
    platform: HealthPlatform
    source: HealthSource
    samples: _containers.RepeatedCompositeFieldContainer[HealthSample]
    sleep_segments: _containers.RepeatedCompositeFieldContainer[SleepSegment]
    workouts: _containers.RepeatedCompositeFieldContainer[HealthWorkout]
    def __init__(self, platform: _Optional[_Union[HealthPlatform, str]] = ..., source: _Optional[_Union[HealthSource, _Mapping]] = ..., samples: _Optional[_Iterable[_Union[HealthSample, _Mapping]]] = ..., sleep_segments: _Optional[_Iterable[_Union[SleepSegment, _Mapping]]] = ..., workouts: _Optional[_Iterable[_Union[HealthWorkout, _Mapping]]] = ...) -> None: ...

class HealthSource(_message.Message):
    __slots__ = ("app_id", "app_name", "device_name", "device_model", "device_manufacturer", "device_type", "recording_method")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MANUFACTURER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECORDING_METHOD_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    app_name: str
    device_name: str
    device_model: str
    device_manufacturer: str
    device_type: _health_pb2.DeviceType
    recording_method: _health_pb2.RecordingMethod
    def __init__(self, app_id: _Optional[str] = ..., app_name: _Optional[str] = ..., device_name: _Optional[str] = ..., device_model: _Optional[str] = ..., device_manufacturer: _Optional[str] = ..., device_type: _Optional[_Union[_health_pb2.DeviceType, str]] = ..., recording_method: _Optional[_Union[_health_pb2.RecordingMethod, str]] = ...) -> None: ...

class HealthSample(_message.Message):
    __slots__ = ("record_id", "type", "field", "unit", "value", "start_time", "end_time", "zone_offset", "source")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    type: str
    field: str
    unit: str
    value: float
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    zone_offset: int
    source: HealthSource
    def __init__(self, record_id: _Optional[str] = ..., type: _Optional[str] = ..., field: _Optional[str] = ..., unit: _Optional[str] = ..., value: _Optional[float] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., zone_offset: _Optional[int] = ..., source: _Optional[_Union[HealthSource, _Mapping]] = ...) -> None: ...

class SleepSegment(_message.Message):
    __slots__ = ("record_id", "stage", "start_time", "end_time", "zone_offset", "source")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    stage: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    zone_offset: int
    source: HealthSource
    def __init__(self, record_id: _Optional[str] = ..., stage: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., zone_offset: _Optional[int] = ..., source: _Optional[_Union[HealthSource, _Mapping]] = ...) -> None: ...

class HealthWorkout(_message.Message):
    __slots__ = ("record_id", "activity_type", "start_time", "end_time", "zone_offset", "source", "distance_meters", "active_energy_kcal", "steps", "heart_rate_avg", "heart_rate_max", "elevation_gain_meters", "moving_seconds")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METERS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ENERGY_KCAL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_AVG_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_MAX_FIELD_NUMBER: _ClassVar[int]
    ELEVATION_GAIN_METERS_FIELD_NUMBER: _ClassVar[int]
    MOVING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    activity_type: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    zone_offset: int
    source: HealthSource
    distance_meters: float
    active_energy_kcal: float
    steps: int
    heart_rate_avg: float
    heart_rate_max: float
    elevation_gain_meters: float
    moving_seconds: int
    def __init__(self, record_id: _Optional[str] = ..., activity_type: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., zone_offset: _Optional[int] = ..., source: _Optional[_Union[HealthSource, _Mapping]] = ..., distance_meters: _Optional[float] = ..., active_energy_kcal: _Optional[float] = ..., steps: _Optional[int] = ..., heart_rate_avg: _Optional[float] = ..., heart_rate_max: _Optional[float] = ..., elevation_gain_meters: _Optional[float] = ..., moving_seconds: _Optional[int] = ...) -> None: ...

class HealthBatchResult(_message.Message):
    __slots__ = ("accepted", "duplicates", "rejected", "sleep_sessions_closed")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    SLEEP_SESSIONS_CLOSED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedRecord]
    sleep_sessions_closed: int
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedRecord, _Mapping]]] = ..., sleep_sessions_closed: _Optional[int] = ...) -> None: ...

class RejectedRecord(_message.Message):
    __slots__ = ("kind", "index", "record_id", "field", "reason", "description")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    kind: RecordKind
    index: int
    record_id: str
    field: str
    reason: RejectReason
    description: str
    def __init__(self, kind: _Optional[_Union[RecordKind, str]] = ..., index: _Optional[int] = ..., record_id: _Optional[str] = ..., field: _Optional[str] = ..., reason: _Optional[_Union[RejectReason, str]] = ..., description: _Optional[str] = ...) -> None: ...
