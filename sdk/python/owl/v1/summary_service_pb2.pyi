from owl.v1 import summary_pb2 as _summary_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListDailySummariesRequest(_message.Message):
    __slots__ = ("parent", "start_date", "end_date")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    start_date: str
    end_date: str
    def __init__(self, parent: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ...) -> None: ...

class ListDailySummariesResponse(_message.Message):
    __slots__ = ("daily_summaries",)
    DAILY_SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    daily_summaries: _containers.RepeatedCompositeFieldContainer[_summary_pb2.DailySummary]
    def __init__(self, daily_summaries: _Optional[_Iterable[_Union[_summary_pb2.DailySummary, _Mapping]]] = ...) -> None: ...
