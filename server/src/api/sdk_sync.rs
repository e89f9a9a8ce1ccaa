//! `owl.v1.SdkSyncService` over gRPC: converts HealthKit / Health Connect batches and delegates
//! to `domain::health::push`.

use std::sync::Arc;

use owl::pb;
use owl::pb::sdk_sync_service_server::SdkSyncService;
use prost_types::Timestamp;
use tonic::{Request, Response, Status, Streaming};

use super::auth::caller;
use super::convert::one_name;
use super::stream::next_message;
use super::time_series::{device_type_key, recording_method};
use crate::domain::Context;
use crate::domain::error::Error;
use crate::domain::health::events::WorkoutDetails;
use crate::domain::health::push::{
    Platform, Push, PushBatch, PushResult, PushSample, PushSegment, PushSource, PushWorkout,
    RecordKind, RejectReason,
};

/// Largest message: 100,000 samples with their record ids and types (~100 bytes each) and
/// room for sources.
pub const MAX_MESSAGE_BYTES: usize = 24 * 1024 * 1024;

/// The SdkSyncService implementation.
pub struct SdkSyncApi(pub Arc<Context>);

/// UNIX ms of a timestamp; a malformed one becomes -1, which the record checks reject.
fn millis(t: Option<Timestamp>) -> Option<i64> {
    let t = t?;
    Some(match t.seconds.checked_mul(1000) {
        Some(ms) if (0..1_000_000_000).contains(&t.nanos) => ms + i64::from(t.nanos) / 1_000_000,
        _ => -1,
    })
}

fn source(s: pb::HealthSource) -> PushSource {
    PushSource {
        app_id: s.app_id,
        app_name: s.app_name,
        device_name: s.device_name,
        device_model: s.device_model,
        device_manufacturer: s.device_manufacturer,
        device_type: device_type_key(s.device_type),
        recording_method: recording_method(s.recording_method),
    }
}

fn batch(b: Option<pb::HealthBatch>) -> PushBatch {
    let b = b.unwrap_or_default();
    let platform = match pb::HealthPlatform::try_from(b.platform) {
        Ok(pb::HealthPlatform::Healthkit) => Some(Platform::HealthKit),
        Ok(pb::HealthPlatform::HealthConnect) => Some(Platform::HealthConnect),
        _ => None,
    };
    PushBatch {
        platform,
        source: source(b.source.unwrap_or_default()),
        samples: b
            .samples
            .into_iter()
            .map(|s| PushSample {
                record_id: s.record_id,
                kind: s.r#type,
                field: s.field,
                unit: s.unit,
                value: s.value,
                start: millis(s.start_time),
                end: millis(s.end_time),
                zone_offset: s.zone_offset,
                source: s.source.map(source),
            })
            .collect(),
        segments: b
            .sleep_segments
            .into_iter()
            .map(|s| PushSegment {
                record_id: s.record_id,
                stage: s.stage,
                start: millis(s.start_time),
                end: millis(s.end_time),
                zone_offset: s.zone_offset,
                source: s.source.map(source),
            })
            .collect(),
        workouts: b
            .workouts
            .into_iter()
            .map(|w| PushWorkout {
                record_id: w.record_id,
                activity_type: w.activity_type,
                start: millis(w.start_time),
                end: millis(w.end_time),
                zone_offset: w.zone_offset,
                source: w.source.map(source),
                details: WorkoutDetails {
                    distance_m: w.distance_meters,
                    active_energy_kcal: w.active_energy_kcal,
                    steps: w.steps,
                    heart_rate_avg: w.heart_rate_avg,
                    heart_rate_max: w.heart_rate_max,
                    elevation_gain_m: w.elevation_gain_meters,
                    moving_seconds: w.moving_seconds,
                },
            })
            .collect(),
    }
}

fn result(r: PushResult) -> pb::HealthBatchResult {
    pb::HealthBatchResult {
        accepted: r.accepted as i64,
        duplicates: r.duplicates as i64,
        sleep_sessions_closed: r.sleep_sessions_closed as i64,
        rejected: r
            .rejected
            .into_iter()
            .map(|x| pb::RejectedRecord {
                kind: match x.kind {
                    RecordKind::Sample => pb::RecordKind::Sample,
                    RecordKind::SleepSegment => pb::RecordKind::SleepSegment,
                    RecordKind::Workout => pb::RecordKind::Workout,
                } as i32,
                index: x.index as i32,
                record_id: x.record_id,
                field: x.field,
                reason: match x.reason {
                    RejectReason::UnknownType => pb::RejectReason::UnknownType,
                    RejectReason::UnknownUnit => pb::RejectReason::UnknownUnit,
                    RejectReason::InvalidValue => pb::RejectReason::InvalidValue,
                    RejectReason::InvalidTime => pb::RejectReason::InvalidTime,
                    RejectReason::InvalidSource => pb::RejectReason::InvalidSource,
                    RejectReason::InvalidZoneOffset => pb::RejectReason::InvalidZoneOffset,
                } as i32,
                description: x.description,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl SdkSyncService for SdkSyncApi {
    async fn push_health_batch(
        &self,
        request: Request<pb::PushHealthBatchRequest>,
    ) -> Result<Response<pb::PushHealthBatchResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let done = Push(&self.0)
            .push(&caller, user, batch(r.batch), "batch")
            .await?;
        Ok(Response::new(pb::PushHealthBatchResponse {
            result: Some(result(done)),
        }))
    }

    async fn stream_health_batches(
        &self,
        request: Request<Streaming<pb::StreamHealthBatchesRequest>>,
    ) -> Result<Response<pb::StreamHealthBatchesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let mut messages = request.into_inner();
        let idle = self.0.settings.stream_idle_timeout;
        let Some(first) = next_message(&mut messages, idle).await? else {
            return Err(Error::invalid("parent", "the stream carried no message").into());
        };
        let parent = first.parent.clone();
        let user = one_name(&parent, "users", "messages[0].parent")?;
        let push = Push(&self.0);
        let mut total = PushResult::default();
        let mut results = Vec::new();
        let mut next = Some(first);
        let mut index = 0;
        while let Some(message) = next {
            if !message.parent.is_empty() && message.parent != parent {
                return Err(Error::invalid(
                    format!("messages[{index}].parent"),
                    "every message of a stream must name the same user",
                )
                .into());
            }
            // Each message commits on its own: what was stored stays if the stream breaks,
            // and re-sending it adds nothing.
            let field = format!("messages[{index}].batch");
            let done = push
                .push(&caller, user, batch(message.batch), &field)
                .await?;
            total += &done;
            results.push(result(done));
            index += 1;
            next = next_message(&mut messages, idle).await?;
        }
        Ok(Response::new(pb::StreamHealthBatchesResponse {
            results,
            total: Some(result(total)),
        }))
    }
}
