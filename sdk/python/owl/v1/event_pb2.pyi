import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SleepStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLEEP_STAGE_UNSPECIFIED: _ClassVar[SleepStage]
    SLEEP_STAGE_IN_BED: _ClassVar[SleepStage]
    SLEEP_STAGE_ASLEEP: _ClassVar[SleepStage]
    SLEEP_STAGE_AWAKE: _ClassVar[SleepStage]
    SLEEP_STAGE_LIGHT: _ClassVar[SleepStage]
    SLEEP_STAGE_DEEP: _ClassVar[SleepStage]
    SLEEP_STAGE_REM: _ClassVar[SleepStage]
SLEEP_STAGE_UNSPECIFIED: SleepStage
SLEEP_STAGE_IN_BED: SleepStage
SLEEP_STAGE_ASLEEP: SleepStage
SLEEP_STAGE_AWAKE: SleepStage
SLEEP_STAGE_LIGHT: SleepStage
SLEEP_STAGE_DEEP: SleepStage
SLEEP_STAGE_REM: SleepStage

class Workout(_message.Message):
    __slots__ = ("name", "data_source", "workout_type", "start_time", "end_time", "zone_offset", "distance_meters", "active_energy_kcal", "steps", "heart_rate_avg", "heart_rate_max", "elevation_gain_meters", "create_time", "update_time", "moving_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKOUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METERS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ENERGY_KCAL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_AVG_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_MAX_FIELD_NUMBER: _ClassVar[int]
    ELEVATION_GAIN_METERS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MOVING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    data_source: str
    workout_type: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    zone_offset: int
    distance_meters: float
    active_energy_kcal: float
    steps: int
    heart_rate_avg: float
    heart_rate_max: float
    elevation_gain_meters: float
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    moving_seconds: int
    def __init__(self, name: _Optional[str] = ..., data_source: _Optional[str] = ..., workout_type: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., zone_offset: _Optional[int] = ..., distance_meters: _Optional[float] = ..., active_energy_kcal: _Optional[float] = ..., steps: _Optional[int] = ..., heart_rate_avg: _Optional[float] = ..., heart_rate_max: _Optional[float] = ..., elevation_gain_meters: _Optional[float] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., moving_seconds: _Optional[int] = ...) -> None: ...

class SleepSession(_message.Message):
    __slots__ = ("name", "data_source", "start_time", "end_time", "zone_offset", "nap", "efficiency_percent", "stages", "create_time", "update_time", "end_zone_offset")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    NAP_FIELD_NUMBER: _ClassVar[int]
    EFFICIENCY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_ZONE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    name: str
    data_source: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    zone_offset: int
    nap: bool
    efficiency_percent: float
    stages: _containers.RepeatedCompositeFieldContainer[SleepStageInterval]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    end_zone_offset: int
    def __init__(self, name: _Optional[str] = ..., data_source: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., zone_offset: _Optional[int] = ..., nap: _Optional[bool] = ..., efficiency_percent: _Optional[float] = ..., stages: _Optional[_Iterable[_Union[SleepStageInterval, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_zone_offset: _Optional[int] = ...) -> None: ...

class SleepStageInterval(_message.Message):
    __slots__ = ("stage", "start_time", "end_time")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    stage: SleepStage
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, stage: _Optional[_Union[SleepStage, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
