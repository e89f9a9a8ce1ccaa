import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Aggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATION_UNSPECIFIED: _ClassVar[Aggregation]
    AGGREGATION_SUM: _ClassVar[Aggregation]
    AGGREGATION_AVG: _ClassVar[Aggregation]
    AGGREGATION_MIN: _ClassVar[Aggregation]
    AGGREGATION_MAX: _ClassVar[Aggregation]
    AGGREGATION_LAST: _ClassVar[Aggregation]

class DeviceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_TYPE_UNSPECIFIED: _ClassVar[DeviceType]
    DEVICE_TYPE_PHONE: _ClassVar[DeviceType]
    DEVICE_TYPE_WATCH: _ClassVar[DeviceType]
    DEVICE_TYPE_RING: _ClassVar[DeviceType]
    DEVICE_TYPE_BAND: _ClassVar[DeviceType]
    DEVICE_TYPE_SCALE: _ClassVar[DeviceType]
    DEVICE_TYPE_CHEST_STRAP: _ClassVar[DeviceType]
    DEVICE_TYPE_BIKE_COMPUTER: _ClassVar[DeviceType]
    DEVICE_TYPE_OTHER: _ClassVar[DeviceType]

class RecordingMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORDING_METHOD_UNSPECIFIED: _ClassVar[RecordingMethod]
    RECORDING_METHOD_AUTOMATICALLY_RECORDED: _ClassVar[RecordingMethod]
    RECORDING_METHOD_ACTIVELY_RECORDED: _ClassVar[RecordingMethod]
    RECORDING_METHOD_MANUAL_ENTRY: _ClassVar[RecordingMethod]

class View(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIEW_UNSPECIFIED: _ClassVar[View]
    VIEW_RAW: _ClassVar[View]
    VIEW_MERGED: _ClassVar[View]
AGGREGATION_UNSPECIFIED: Aggregation
AGGREGATION_SUM: Aggregation
AGGREGATION_AVG: Aggregation
AGGREGATION_MIN: Aggregation
AGGREGATION_MAX: Aggregation
AGGREGATION_LAST: Aggregation
DEVICE_TYPE_UNSPECIFIED: DeviceType
DEVICE_TYPE_PHONE: DeviceType
DEVICE_TYPE_WATCH: DeviceType
DEVICE_TYPE_RING: DeviceType
DEVICE_TYPE_BAND: DeviceType
DEVICE_TYPE_SCALE: DeviceType
DEVICE_TYPE_CHEST_STRAP: DeviceType
DEVICE_TYPE_BIKE_COMPUTER: DeviceType
DEVICE_TYPE_OTHER: DeviceType
RECORDING_METHOD_UNSPECIFIED: RecordingMethod
RECORDING_METHOD_AUTOMATICALLY_RECORDED: RecordingMethod
RECORDING_METHOD_ACTIVELY_RECORDED: RecordingMethod
RECORDING_METHOD_MANUAL_ENTRY: RecordingMethod
VIEW_UNSPECIFIED: View
VIEW_RAW: View
VIEW_MERGED: View

class SeriesType(_message.Message):
    __slots__ = ("name", "code", "id", "unit", "daily_aggregation", "loinc")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DAILY_AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    LOINC_FIELD_NUMBER: _ClassVar[int]
    name: str
    code: str
    id: int
    unit: str
    daily_aggregation: Aggregation
    loinc: str
    def __init__(self, name: _Optional[str] = ..., code: _Optional[str] = ..., id: _Optional[int] = ..., unit: _Optional[str] = ..., daily_aggregation: _Optional[_Union[Aggregation, str]] = ..., loinc: _Optional[str] = ...) -> None: ...

class WorkoutType(_message.Message):
    __slots__ = ("name", "code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    code: str
    def __init__(self, name: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class DataSource(_message.Message):
    __slots__ = ("name", "provider", "device_model", "device_type", "app_name", "create_time", "manufacturer", "recording_method")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MANUFACTURER_FIELD_NUMBER: _ClassVar[int]
    RECORDING_METHOD_FIELD_NUMBER: _ClassVar[int]
    name: str
    provider: str
    device_model: str
    device_type: DeviceType
    app_name: str
    create_time: _timestamp_pb2.Timestamp
    manufacturer: str
    recording_method: RecordingMethod
    def __init__(self, name: _Optional[str] = ..., provider: _Optional[str] = ..., device_model: _Optional[str] = ..., device_type: _Optional[_Union[DeviceType, str]] = ..., app_name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., manufacturer: _Optional[str] = ..., recording_method: _Optional[_Union[RecordingMethod, str]] = ...) -> None: ...

class SourceDescriptor(_message.Message):
    __slots__ = ("provider", "device_model", "device_type", "app_name", "manufacturer", "recording_method")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    MANUFACTURER_FIELD_NUMBER: _ClassVar[int]
    RECORDING_METHOD_FIELD_NUMBER: _ClassVar[int]
    provider: str
    device_model: str
    device_type: DeviceType
    app_name: str
    manufacturer: str
    recording_method: RecordingMethod
    def __init__(self, provider: _Optional[str] = ..., device_model: _Optional[str] = ..., device_type: _Optional[_Union[DeviceType, str]] = ..., app_name: _Optional[str] = ..., manufacturer: _Optional[str] = ..., recording_method: _Optional[_Union[RecordingMethod, str]] = ...) -> None: ...

class SampleBatch(_message.Message):
    __slots__ = ("source", "series_type", "unit", "times", "values", "zone_offsets", "durations")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SERIES_TYPE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    DURATIONS_FIELD_NUMBER: _ClassVar[int]
    source: SourceDescriptor
    series_type: str
    unit: str
    times: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    zone_offsets: _containers.RepeatedScalarFieldContainer[int]
    durations: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, source: _Optional[_Union[SourceDescriptor, _Mapping]] = ..., series_type: _Optional[str] = ..., unit: _Optional[str] = ..., times: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ..., zone_offsets: _Optional[_Iterable[int]] = ..., durations: _Optional[_Iterable[int]] = ...) -> None: ...

class SampleSeries(_message.Message):
    __slots__ = ("series_type", "data_source", "unit", "times", "values", "zone_offsets", "durations")
    SERIES_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ZONE_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    DURATIONS_FIELD_NUMBER: _ClassVar[int]
    series_type: str
    data_source: str
    unit: str
    times: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    zone_offsets: _containers.RepeatedScalarFieldContainer[int]
    durations: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, series_type: _Optional[str] = ..., data_source: _Optional[str] = ..., unit: _Optional[str] = ..., times: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ..., zone_offsets: _Optional[_Iterable[int]] = ..., durations: _Optional[_Iterable[int]] = ...) -> None: ...

class WriteStats(_message.Message):
    __slots__ = ("inserted", "updated", "skipped")
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    inserted: int
    updated: int
    skipped: int
    def __init__(self, inserted: _Optional[int] = ..., updated: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SourcePriority(_message.Message):
    __slots__ = ("name", "providers", "device_types", "deployment_default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPES_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    providers: _containers.RepeatedScalarFieldContainer[str]
    device_types: _containers.RepeatedScalarFieldContainer[DeviceType]
    deployment_default: bool
    def __init__(self, name: _Optional[str] = ..., providers: _Optional[_Iterable[str]] = ..., device_types: _Optional[_Iterable[_Union[DeviceType, str]]] = ..., deployment_default: _Optional[bool] = ...) -> None: ...
