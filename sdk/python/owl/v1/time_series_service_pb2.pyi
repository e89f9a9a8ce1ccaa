from owl.v1 import health_pb2 as _health_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TimeOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_ORDER_UNSPECIFIED: _ClassVar[TimeOrder]
    TIME_ORDER_OLDEST_FIRST: _ClassVar[TimeOrder]
    TIME_ORDER_NEWEST_FIRST: _ClassVar[TimeOrder]

class Bucket(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUCKET_UNSPECIFIED: _ClassVar[Bucket]
    BUCKET_RAW: _ClassVar[Bucket]
    BUCKET_MINUTE: _ClassVar[Bucket]
    BUCKET_FIVE_MINUTES: _ClassVar[Bucket]
    BUCKET_FIFTEEN_MINUTES: _ClassVar[Bucket]
    BUCKET_HOUR: _ClassVar[Bucket]
    BUCKET_DAY: _ClassVar[Bucket]
    BUCKET_WEEK: _ClassVar[Bucket]
TIME_ORDER_UNSPECIFIED: TimeOrder
TIME_ORDER_OLDEST_FIRST: TimeOrder
TIME_ORDER_NEWEST_FIRST: TimeOrder
BUCKET_UNSPECIFIED: Bucket
BUCKET_RAW: Bucket
BUCKET_MINUTE: Bucket
BUCKET_FIVE_MINUTES: Bucket
BUCKET_FIFTEEN_MINUTES: Bucket
BUCKET_HOUR: Bucket
BUCKET_DAY: Bucket
BUCKET_WEEK: Bucket

class ListSeriesTypesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSeriesTypesResponse(_message.Message):
    __slots__ = ("series_types", "next_page_token")
    SERIES_TYPES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    series_types: _containers.RepeatedCompositeFieldContainer[_health_pb2.SeriesType]
    next_page_token: str
    def __init__(self, series_types: _Optional[_Iterable[_Union[_health_pb2.SeriesType, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDataSourcesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDataSourcesResponse(_message.Message):
    __slots__ = ("data_sources", "next_page_token")
    DATA_SOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    data_sources: _containers.RepeatedCompositeFieldContainer[_health_pb2.DataSource]
    next_page_token: str
    def __init__(self, data_sources: _Optional[_Iterable[_Union[_health_pb2.DataSource, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WriteSamplesRequest(_message.Message):
    __slots__ = ("parent", "batches")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    parent: str
    batches: _containers.RepeatedCompositeFieldContainer[_health_pb2.SampleBatch]
    def __init__(self, parent: _Optional[str] = ..., batches: _Optional[_Iterable[_Union[_health_pb2.SampleBatch, _Mapping]]] = ...) -> None: ...

class WriteSamplesResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _health_pb2.WriteStats
    def __init__(self, stats: _Optional[_Union[_health_pb2.WriteStats, _Mapping]] = ...) -> None: ...

class StreamSamplesRequest(_message.Message):
    __slots__ = ("parent", "batches")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    parent: str
    batches: _containers.RepeatedCompositeFieldContainer[_health_pb2.SampleBatch]
    def __init__(self, parent: _Optional[str] = ..., batches: _Optional[_Iterable[_Union[_health_pb2.SampleBatch, _Mapping]]] = ...) -> None: ...

class StreamSamplesResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _health_pb2.WriteStats
    def __init__(self, stats: _Optional[_Union[_health_pb2.WriteStats, _Mapping]] = ...) -> None: ...

class ListSamplesRequest(_message.Message):
    __slots__ = ("parent", "series_types", "time_range", "order", "page_size", "page_token", "view")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SERIES_TYPES_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    parent: str
    series_types: _containers.RepeatedScalarFieldContainer[str]
    time_range: _health_pb2.TimeRange
    order: TimeOrder
    page_size: int
    page_token: str
    view: _health_pb2.View
    def __init__(self, parent: _Optional[str] = ..., series_types: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ..., order: _Optional[_Union[TimeOrder, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[_health_pb2.View, str]] = ...) -> None: ...

class ListSamplesResponse(_message.Message):
    __slots__ = ("series", "next_page_token")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[_health_pb2.SampleSeries]
    next_page_token: str
    def __init__(self, series: _Optional[_Iterable[_Union[_health_pb2.SampleSeries, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AggregateSamplesRequest(_message.Message):
    __slots__ = ("parent", "series_types", "time_range", "bucket", "view")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SERIES_TYPES_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    parent: str
    series_types: _containers.RepeatedScalarFieldContainer[str]
    time_range: _health_pb2.TimeRange
    bucket: Bucket
    view: _health_pb2.View
    def __init__(self, parent: _Optional[str] = ..., series_types: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ..., bucket: _Optional[_Union[Bucket, str]] = ..., view: _Optional[_Union[_health_pb2.View, str]] = ...) -> None: ...

class AggregateBucket(_message.Message):
    __slots__ = ("start_time", "local_date", "min", "max", "avg", "sum", "count")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    AVG_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    start_time: int
    local_date: str
    min: float
    max: float
    avg: float
    sum: float
    count: int
    def __init__(self, start_time: _Optional[int] = ..., local_date: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., avg: _Optional[float] = ..., sum: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class AggregateSeries(_message.Message):
    __slots__ = ("series_type", "data_source", "unit", "buckets")
    SERIES_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    series_type: str
    data_source: str
    unit: str
    buckets: _containers.RepeatedCompositeFieldContainer[AggregateBucket]
    def __init__(self, series_type: _Optional[str] = ..., data_source: _Optional[str] = ..., unit: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[AggregateBucket, _Mapping]]] = ...) -> None: ...

class AggregateSamplesResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[AggregateSeries]
    def __init__(self, series: _Optional[_Iterable[_Union[AggregateSeries, _Mapping]]] = ...) -> None: ...

class DeleteSamplesRequest(_message.Message):
    __slots__ = ("parent", "data_source", "series_types", "time_range")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SERIES_TYPES_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    data_source: str
    series_types: _containers.RepeatedScalarFieldContainer[str]
    time_range: _health_pb2.TimeRange
    def __init__(self, parent: _Optional[str] = ..., data_source: _Optional[str] = ..., series_types: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ...) -> None: ...

class DeleteSamplesResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class GetSourcePriorityRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UpdateSourcePriorityRequest(_message.Message):
    __slots__ = ("source_priority",)
    SOURCE_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    source_priority: _health_pb2.SourcePriority
    def __init__(self, source_priority: _Optional[_Union[_health_pb2.SourcePriority, _Mapping]] = ...) -> None: ...
