from google.protobuf import empty_pb2 as _empty_pb2
from owl.v1 import event_pb2 as _event_pb2
from owl.v1 import health_pb2 as _health_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListWorkoutTypesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorkoutTypesResponse(_message.Message):
    __slots__ = ("workout_types", "next_page_token")
    WORKOUT_TYPES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workout_types: _containers.RepeatedCompositeFieldContainer[_health_pb2.WorkoutType]
    next_page_token: str
    def __init__(self, workout_types: _Optional[_Iterable[_Union[_health_pb2.WorkoutType, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WriteWorkoutsRequest(_message.Message):
    __slots__ = ("parent", "source", "workouts")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    WORKOUTS_FIELD_NUMBER: _ClassVar[int]
    parent: str
    source: _health_pb2.SourceDescriptor
    workouts: _containers.RepeatedCompositeFieldContainer[_event_pb2.Workout]
    def __init__(self, parent: _Optional[str] = ..., source: _Optional[_Union[_health_pb2.SourceDescriptor, _Mapping]] = ..., workouts: _Optional[_Iterable[_Union[_event_pb2.Workout, _Mapping]]] = ...) -> None: ...

class WriteWorkoutsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _health_pb2.WriteStats
    def __init__(self, stats: _Optional[_Union[_health_pb2.WriteStats, _Mapping]] = ...) -> None: ...

class WriteSleepSessionsRequest(_message.Message):
    __slots__ = ("parent", "source", "sleep_sessions")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SLEEP_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    parent: str
    source: _health_pb2.SourceDescriptor
    sleep_sessions: _containers.RepeatedCompositeFieldContainer[_event_pb2.SleepSession]
    def __init__(self, parent: _Optional[str] = ..., source: _Optional[_Union[_health_pb2.SourceDescriptor, _Mapping]] = ..., sleep_sessions: _Optional[_Iterable[_Union[_event_pb2.SleepSession, _Mapping]]] = ...) -> None: ...

class WriteSleepSessionsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _health_pb2.WriteStats
    def __init__(self, stats: _Optional[_Union[_health_pb2.WriteStats, _Mapping]] = ...) -> None: ...

class ListWorkoutsRequest(_message.Message):
    __slots__ = ("parent", "time_range", "workout_types", "page_size", "page_token", "view")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    WORKOUT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    parent: str
    time_range: _health_pb2.TimeRange
    workout_types: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    page_token: str
    view: _health_pb2.View
    def __init__(self, parent: _Optional[str] = ..., time_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ..., workout_types: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[_health_pb2.View, str]] = ...) -> None: ...

class ListWorkoutsResponse(_message.Message):
    __slots__ = ("workouts", "next_page_token")
    WORKOUTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workouts: _containers.RepeatedCompositeFieldContainer[_event_pb2.Workout]
    next_page_token: str
    def __init__(self, workouts: _Optional[_Iterable[_Union[_event_pb2.Workout, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetWorkoutRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListSleepSessionsRequest(_message.Message):
    __slots__ = ("parent", "time_range", "page_size", "page_token", "view")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    parent: str
    time_range: _health_pb2.TimeRange
    page_size: int
    page_token: str
    view: _health_pb2.View
    def __init__(self, parent: _Optional[str] = ..., time_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[_health_pb2.View, str]] = ...) -> None: ...

class ListSleepSessionsResponse(_message.Message):
    __slots__ = ("sleep_sessions", "next_page_token")
    SLEEP_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sleep_sessions: _containers.RepeatedCompositeFieldContainer[_event_pb2.SleepSession]
    next_page_token: str
    def __init__(self, sleep_sessions: _Optional[_Iterable[_Union[_event_pb2.SleepSession, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteEventsRequest(_message.Message):
    __slots__ = ("parent", "data_source", "time_range")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    data_source: str
    time_range: _health_pb2.TimeRange
    def __init__(self, parent: _Optional[str] = ..., data_source: _Optional[str] = ..., time_range: _Optional[_Union[_health_pb2.TimeRange, _Mapping]] = ...) -> None: ...
