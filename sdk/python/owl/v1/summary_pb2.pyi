from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DailySummary(_message.Message):
    __slots__ = ("date", "activity", "sleep", "body", "recovery")
    DATE_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    SLEEP_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    date: str
    activity: ActivitySummary
    sleep: SleepSummary
    body: BodySummary
    recovery: RecoverySummary
    def __init__(self, date: _Optional[str] = ..., activity: _Optional[_Union[ActivitySummary, _Mapping]] = ..., sleep: _Optional[_Union[SleepSummary, _Mapping]] = ..., body: _Optional[_Union[BodySummary, _Mapping]] = ..., recovery: _Optional[_Union[RecoverySummary, _Mapping]] = ...) -> None: ...

class ActivitySummary(_message.Message):
    __slots__ = ("steps", "distance_meters", "floors_climbed", "active_energy_kcal", "basal_energy_kcal", "total_energy_kcal", "active_minutes", "heart_rate_min", "heart_rate_avg", "heart_rate_max")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METERS_FIELD_NUMBER: _ClassVar[int]
    FLOORS_CLIMBED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ENERGY_KCAL_FIELD_NUMBER: _ClassVar[int]
    BASAL_ENERGY_KCAL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ENERGY_KCAL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_MIN_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_AVG_FIELD_NUMBER: _ClassVar[int]
    HEART_RATE_MAX_FIELD_NUMBER: _ClassVar[int]
    steps: float
    distance_meters: float
    floors_climbed: float
    active_energy_kcal: float
    basal_energy_kcal: float
    total_energy_kcal: float
    active_minutes: float
    heart_rate_min: float
    heart_rate_avg: float
    heart_rate_max: float
    def __init__(self, steps: _Optional[float] = ..., distance_meters: _Optional[float] = ..., floors_climbed: _Optional[float] = ..., active_energy_kcal: _Optional[float] = ..., basal_energy_kcal: _Optional[float] = ..., total_energy_kcal: _Optional[float] = ..., active_minutes: _Optional[float] = ..., heart_rate_min: _Optional[float] = ..., heart_rate_avg: _Optional[float] = ..., heart_rate_max: _Optional[float] = ...) -> None: ...

class SleepSummary(_message.Message):
    __slots__ = ("main_session", "asleep_seconds", "in_bed_seconds", "efficiency_percent", "light_seconds", "deep_seconds", "rem_seconds", "awake_seconds", "naps", "total_asleep_seconds", "nap_asleep_seconds")
    MAIN_SESSION_FIELD_NUMBER: _ClassVar[int]
    ASLEEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    IN_BED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EFFICIENCY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    LIGHT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REM_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AWAKE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NAPS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ASLEEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NAP_ASLEEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    main_session: str
    asleep_seconds: int
    in_bed_seconds: int
    efficiency_percent: float
    light_seconds: int
    deep_seconds: int
    rem_seconds: int
    awake_seconds: int
    naps: int
    total_asleep_seconds: int
    nap_asleep_seconds: int
    def __init__(self, main_session: _Optional[str] = ..., asleep_seconds: _Optional[int] = ..., in_bed_seconds: _Optional[int] = ..., efficiency_percent: _Optional[float] = ..., light_seconds: _Optional[int] = ..., deep_seconds: _Optional[int] = ..., rem_seconds: _Optional[int] = ..., awake_seconds: _Optional[int] = ..., naps: _Optional[int] = ..., total_asleep_seconds: _Optional[int] = ..., nap_asleep_seconds: _Optional[int] = ...) -> None: ...

class BodySummary(_message.Message):
    __slots__ = ("weight_kg", "height_cm", "body_fat_percent", "body_mass_index")
    WEIGHT_KG_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_CM_FIELD_NUMBER: _ClassVar[int]
    BODY_FAT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BODY_MASS_INDEX_FIELD_NUMBER: _ClassVar[int]
    weight_kg: float
    height_cm: float
    body_fat_percent: float
    body_mass_index: float
    def __init__(self, weight_kg: _Optional[float] = ..., height_cm: _Optional[float] = ..., body_fat_percent: _Optional[float] = ..., body_mass_index: _Optional[float] = ...) -> None: ...

class RecoverySummary(_message.Message):
    __slots__ = ("resting_heart_rate", "hrv_sdnn_ms", "hrv_rmssd_ms", "respiratory_rate", "oxygen_saturation_percent")
    RESTING_HEART_RATE_FIELD_NUMBER: _ClassVar[int]
    HRV_SDNN_MS_FIELD_NUMBER: _ClassVar[int]
    HRV_RMSSD_MS_FIELD_NUMBER: _ClassVar[int]
    RESPIRATORY_RATE_FIELD_NUMBER: _ClassVar[int]
    OXYGEN_SATURATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    resting_heart_rate: float
    hrv_sdnn_ms: float
    hrv_rmssd_ms: float
    respiratory_rate: float
    oxygen_saturation_percent: float
    def __init__(self, resting_heart_rate: _Optional[float] = ..., hrv_sdnn_ms: _Optional[float] = ..., hrv_rmssd_ms: _Optional[float] = ..., respiratory_rate: _Optional[float] = ..., oxygen_saturation_percent: _Optional[float] = ...) -> None: ...
