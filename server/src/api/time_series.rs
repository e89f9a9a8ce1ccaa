//! `owl.v1.TimeSeriesService` over gRPC: converts messages and delegates to
//! `domain::health::samples`.

use std::sync::Arc;

use owl::pb;
use owl::pb::time_series_service_server::TimeSeriesService;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use super::auth::caller;
use super::convert::{one_name, parse_name, time_range, timestamp, user_and_range};
use super::stream::next_message;
use crate::domain::Context;
use crate::domain::error::Error;
use crate::domain::health::catalog::series_type_by_id;
use crate::domain::health::catalog::{Aggregation, SERIES_TYPES};
use crate::domain::health::intake::RawBatch;
use crate::domain::health::samples::{AggregateParams, ListParams, Samples};
use crate::domain::health::{
    BucketWidth, DataSource, MERGED, Priority, RecordingMethod, SourceKey, WriteStats,
};
use crate::domain::page::PageRequest;
use crate::domain::validate::Violations;

/// The TimeSeriesService implementation.
pub struct TimeSeriesApi(pub Arc<Context>);

const DEVICE_TYPES: [(pb::DeviceType, &str); 8] = [
    (pb::DeviceType::Phone, "phone"),
    (pb::DeviceType::Watch, "watch"),
    (pb::DeviceType::Ring, "ring"),
    (pb::DeviceType::Band, "band"),
    (pb::DeviceType::Scale, "scale"),
    (pb::DeviceType::ChestStrap, "chest_strap"),
    (pb::DeviceType::BikeComputer, "bike_computer"),
    (pb::DeviceType::Other, "other"),
];

/// The stored form of a device type; unknown numbers are kept as unspecified.
pub fn device_type_key(value: i32) -> String {
    DEVICE_TYPES
        .iter()
        .find(|(t, _)| *t as i32 == value)
        .map(|(_, k)| (*k).to_owned())
        .unwrap_or_default()
}

fn device_type(key: &str) -> pb::DeviceType {
    DEVICE_TYPES
        .iter()
        .find(|(_, k)| *k == key)
        .map_or(pb::DeviceType::Unspecified, |(t, _)| *t)
}

/// The domain form of a recording method; unknown numbers are kept as unspecified, like
/// device types.
pub fn recording_method(value: i32) -> RecordingMethod {
    match pb::RecordingMethod::try_from(value) {
        Ok(pb::RecordingMethod::AutomaticallyRecorded) => RecordingMethod::Automatic,
        Ok(pb::RecordingMethod::ActivelyRecorded) => RecordingMethod::Active,
        Ok(pb::RecordingMethod::ManualEntry) => RecordingMethod::Manual,
        Ok(pb::RecordingMethod::Unspecified) | Err(_) => RecordingMethod::Unspecified,
    }
}

fn recording_method_pb(method: RecordingMethod) -> pb::RecordingMethod {
    match method {
        RecordingMethod::Unspecified => pb::RecordingMethod::Unspecified,
        RecordingMethod::Automatic => pb::RecordingMethod::AutomaticallyRecorded,
        RecordingMethod::Active => pb::RecordingMethod::ActivelyRecorded,
        RecordingMethod::Manual => pb::RecordingMethod::ManualEntry,
    }
}

/// The domain form of a source descriptor.
pub fn source_key(source: Option<pb::SourceDescriptor>) -> SourceKey {
    let s = source.unwrap_or_default();
    SourceKey {
        provider: s.provider,
        device_model: s.device_model,
        device_type: device_type_key(s.device_type),
        app_name: s.app_name,
        manufacturer: s.manufacturer,
        recording_method: recording_method(s.recording_method),
    }
}

/// The resource name of a data source.
pub fn source_name(user_id: Uuid, uid: Uuid) -> String {
    format!("users/{user_id}/dataSources/{uid}")
}

/// The source of a result series: empty for the merged view.
fn series_source(user_id: Uuid, uid: Uuid) -> String {
    if uid == MERGED {
        String::new()
    } else {
        source_name(user_id, uid)
    }
}

fn priority(user_id: Uuid, (p, deployment_default): (Priority, bool)) -> pb::SourcePriority {
    pb::SourcePriority {
        name: format!("users/{user_id}/sourcePriority"),
        providers: p.providers,
        device_types: p
            .device_types
            .iter()
            .map(|d| device_type(d) as i32)
            .collect(),
        deployment_default,
    }
}

fn data_source(s: DataSource) -> pb::DataSource {
    pb::DataSource {
        name: source_name(s.user_id, s.uid),
        provider: s.key.provider,
        device_model: s.key.device_model,
        device_type: device_type(&s.key.device_type) as i32,
        app_name: s.key.app_name,
        create_time: timestamp(s.created_at),
        manufacturer: s.key.manufacturer,
        recording_method: recording_method_pb(s.key.recording_method) as i32,
    }
}

fn raw_batches(batches: Vec<pb::SampleBatch>) -> Vec<RawBatch> {
    batches
        .into_iter()
        .map(|b| RawBatch {
            source: source_key(b.source),
            series_type: b.series_type,
            unit: b.unit,
            times: b.times,
            values: b.values,
            zone_offsets: b.zone_offsets,
            durations: b.durations,
        })
        .collect()
}

/// The protobuf form of write counts.
pub fn stats(s: WriteStats) -> Option<pb::WriteStats> {
    Some(pb::WriteStats {
        inserted: s.inserted as i64,
        updated: s.updated as i64,
        skipped: s.skipped as i64,
    })
}

fn bucket(value: i32) -> Option<BucketWidth> {
    match pb::Bucket::try_from(value).ok()? {
        pb::Bucket::Unspecified => None,
        pb::Bucket::Raw => Some(BucketWidth::Fixed(1)),
        pb::Bucket::Minute => Some(BucketWidth::Fixed(60_000)),
        pb::Bucket::FiveMinutes => Some(BucketWidth::Fixed(300_000)),
        pb::Bucket::FifteenMinutes => Some(BucketWidth::Fixed(900_000)),
        pb::Bucket::Hour => Some(BucketWidth::Fixed(3_600_000)),
        pb::Bucket::Day => Some(BucketWidth::Day),
        pb::Bucket::Week => Some(BucketWidth::Week),
    }
}

fn local_date(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|d| d.date_naive().to_string())
        .unwrap_or_default()
}

#[tonic::async_trait]
impl TimeSeriesService for TimeSeriesApi {
    async fn list_series_types(
        &self,
        request: Request<pb::ListSeriesTypesRequest>,
    ) -> Result<Response<pb::ListSeriesTypesResponse>, Status> {
        caller(&self.0, &request).await?;
        let series_types = SERIES_TYPES
            .iter()
            .map(|t| pb::SeriesType {
                name: format!("seriesTypes/{}", t.code),
                code: t.code.into(),
                id: t.id,
                unit: t.unit.into(),
                daily_aggregation: match t.aggregation {
                    Aggregation::Sum => pb::Aggregation::Sum,
                    Aggregation::Avg => pb::Aggregation::Avg,
                    Aggregation::Min => pb::Aggregation::Min,
                    Aggregation::Max => pb::Aggregation::Max,
                    Aggregation::Last => pb::Aggregation::Last,
                } as i32,
                loinc: t.loinc.unwrap_or_default().into(),
            })
            .collect();
        Ok(Response::new(pb::ListSeriesTypesResponse {
            series_types,
            next_page_token: String::new(),
        }))
    }

    async fn list_data_sources(
        &self,
        request: Request<pb::ListDataSourcesRequest>,
    ) -> Result<Response<pb::ListDataSourcesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let user = parse_name(&r.parent, "users", "parent", &mut v);
        let page = PageRequest::parse(r.page_size, &r.page_token, &r.parent, &mut v);
        v.finish()?;
        let user = user.ok_or_else(|| Error::invalid("parent", "is required"))?;
        let result = Samples(&self.0).sources(&caller, user, page).await?;
        Ok(Response::new(pb::ListDataSourcesResponse {
            data_sources: result.items.into_iter().map(data_source).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    async fn write_samples(
        &self,
        request: Request<pb::WriteSamplesRequest>,
    ) -> Result<Response<pb::WriteSamplesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let written = Samples(&self.0)
            .write(&caller, user, raw_batches(r.batches))
            .await?;
        Ok(Response::new(pb::WriteSamplesResponse {
            stats: stats(written),
        }))
    }

    async fn stream_samples(
        &self,
        request: Request<Streaming<pb::StreamSamplesRequest>>,
    ) -> Result<Response<pb::StreamSamplesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let mut messages = request.into_inner();
        let idle = self.0.settings.stream_idle_timeout;
        let Some(first) = next_message(&mut messages, idle).await? else {
            return Err(Error::invalid("parent", "the stream carried no message").into());
        };
        let user = one_name(&first.parent, "users", "messages[0].parent")?;
        let mut stream = Samples(&self.0).open(&caller, user).await?;
        stream.write(raw_batches(first.batches)).await?;
        // No transaction is open while waiting: a broken or idle stream ends here with an
        // error, and only what it buffered since its last chunk is dropped.
        while let Some(message) = next_message(&mut messages, idle).await? {
            if !message.parent.is_empty() && message.parent != first.parent {
                return Err(Error::invalid(
                    "parent",
                    "every message of a stream must name the same user",
                )
                .into());
            }
            stream.write(raw_batches(message.batches)).await?;
        }
        let written = stream.commit().await?;
        Ok(Response::new(pb::StreamSamplesResponse {
            stats: stats(written),
        }))
    }

    async fn list_samples(
        &self,
        request: Request<pb::ListSamplesRequest>,
    ) -> Result<Response<pb::ListSamplesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let (user, start, end) = user_and_range(&r.parent, r.time_range)?;
        let params = ListParams {
            series_types: r.series_types,
            start,
            end,
            newest_first: r.order == pb::TimeOrder::NewestFirst as i32,
            page_size: r.page_size,
            page_token: r.page_token,
            merged: r.view == pb::View::Merged as i32,
        };
        let page = Samples(&self.0).list(&caller, user, params).await?;
        let series = page
            .runs
            .into_iter()
            .map(|run| {
                let mut times = Vec::with_capacity(run.samples.len());
                let mut values = Vec::with_capacity(run.samples.len());
                let mut zone_offsets = Vec::with_capacity(run.samples.len());
                // Empty when the whole series is instantaneous.
                let mut durations = Vec::new();
                if run.samples.iter().any(|s| s.duration_ms != 0) {
                    durations.reserve(run.samples.len());
                }
                for s in run.samples {
                    times.push(s.time);
                    values.push(s.value);
                    zone_offsets.push(s.zone_offset);
                    if durations.capacity() > 0 {
                        durations.push(i64::from(s.duration_ms));
                    }
                }
                let kind = series_type_by_id(run.series_type_id);
                pb::SampleSeries {
                    series_type: kind.map(|k| k.code).unwrap_or_default().into(),
                    data_source: series_source(user, run.source_uid),
                    unit: kind.map(|k| k.unit).unwrap_or_default().into(),
                    times,
                    values,
                    zone_offsets,
                    durations,
                }
            })
            .collect();
        Ok(Response::new(pb::ListSamplesResponse {
            series,
            next_page_token: page.next_page_token,
        }))
    }

    async fn aggregate_samples(
        &self,
        request: Request<pb::AggregateSamplesRequest>,
    ) -> Result<Response<pb::AggregateSamplesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let (user, start, end) = user_and_range(&r.parent, r.time_range)?;
        let width = bucket(r.bucket);
        let merged = r.view == pb::View::Merged as i32;
        let params = AggregateParams {
            series_types: r.series_types,
            start,
            end,
            bucket: width,
            merged,
        };
        let rows = Samples(&self.0).aggregate(&caller, user, params).await?;
        let mut series: Vec<pb::AggregateSeries> = Vec::new();
        for row in rows {
            let kind = series_type_by_id(row.series_type_id);
            let code = kind.map(|k| k.code).unwrap_or_default();
            let data_source = series_source(user, row.source_uid);
            let (start_time, local) = match width {
                Some(BucketWidth::Day | BucketWidth::Week) => (
                    row.key * 86_400_000 - i64::from(row.first_offset) * 1000,
                    local_date(row.key),
                ),
                _ => (row.key, String::new()),
            };
            let bucket = pb::AggregateBucket {
                start_time,
                local_date: local,
                min: row.min,
                max: row.max,
                avg: row.sum / row.count.max(1) as f64,
                sum: row.sum,
                count: row.count,
            };
            match series.last_mut() {
                Some(s) if s.series_type == code && s.data_source == data_source => {
                    s.buckets.push(bucket)
                }
                _ => series.push(pb::AggregateSeries {
                    series_type: code.into(),
                    data_source,
                    unit: kind.map(|k| k.unit).unwrap_or_default().into(),
                    buckets: vec![bucket],
                }),
            }
        }
        Ok(Response::new(pb::AggregateSamplesResponse { series }))
    }

    async fn get_source_priority(
        &self,
        request: Request<pb::GetSourcePriorityRequest>,
    ) -> Result<Response<pb::SourcePriority>, Status> {
        let caller = caller(&self.0, &request).await?;
        let user = priority_owner(&request.get_ref().name, "name")?;
        Ok(Response::new(priority(
            user,
            Samples(&self.0).get_priority(&caller, user).await?,
        )))
    }

    async fn update_source_priority(
        &self,
        request: Request<pb::UpdateSourcePriorityRequest>,
    ) -> Result<Response<pb::SourcePriority>, Status> {
        let caller = caller(&self.0, &request).await?;
        let body = request.into_inner().source_priority.unwrap_or_default();
        let user = priority_owner(&body.name, "source_priority.name")?;
        let wanted = Priority {
            providers: body.providers,
            device_types: body.device_types.into_iter().map(device_type_key).collect(),
        };
        Ok(Response::new(priority(
            user,
            Samples(&self.0).set_priority(&caller, user, wanted).await?,
        )))
    }

    async fn delete_samples(
        &self,
        request: Request<pb::DeleteSamplesRequest>,
    ) -> Result<Response<pb::DeleteSamplesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let user = parse_name(&r.parent, "users", "parent", &mut v);
        let source = if r.data_source.is_empty() {
            None
        } else {
            let prefix = format!("{}/dataSources", r.parent);
            parse_name(&r.data_source, &prefix, "data_source", &mut v)
        };
        let (start, end) = time_range(r.time_range, &mut v);
        v.finish()?;
        let user = user.ok_or_else(|| Error::invalid("parent", "is required"))?;
        let deleted = Samples(&self.0)
            .delete(&caller, user, source, &r.series_types, start, end)
            .await?;
        Ok(Response::new(pb::DeleteSamplesResponse {
            deleted: deleted as i64,
        }))
    }
}

/// The user of `users/{user}/sourcePriority`.
fn priority_owner(name: &str, field: &str) -> Result<Uuid, Error> {
    name.strip_suffix("/sourcePriority")
        .and_then(|user| one_name(user, "users", field).ok())
        .ok_or_else(|| Error::invalid(field, "must be users/{uuid}/sourcePriority"))
}
