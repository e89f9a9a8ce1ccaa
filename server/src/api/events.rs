//! `owl.v1.EventService` over gRPC: converts messages and delegates to `domain::health::events`.

use std::sync::Arc;

use owl::pb;
use owl::pb::event_service_server::EventService;
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{
    one_child_name, one_name, required_millis, timestamp, timestamp_ms, user_and_range,
};
use super::time_series::{source_key, source_name, stats};
use crate::domain::Context;
use crate::domain::health::catalog::{SLEEP_STAGES, WORKOUT_TYPES};
use crate::domain::health::events::{
    Category, Event, EventBody, EventQuery, Events, NewEvent, SleepDetails, StageInterval,
    WorkoutDetails,
};
use crate::domain::validate::Violations;

/// The EventService implementation.
pub struct EventApi(pub Arc<Context>);

fn stage_key(stage: i32) -> String {
    // SLEEP_STAGES follows the enum's order after UNSPECIFIED.
    usize::try_from(stage - 1)
        .ok()
        .and_then(|i| SLEEP_STAGES.get(i))
        .map(|s| (*s).to_owned())
        .unwrap_or_default()
}

fn stage_value(key: &str) -> i32 {
    SLEEP_STAGES
        .iter()
        .position(|s| *s == key)
        .map_or(0, |i| i as i32 + 1)
}

fn workout(e: Event) -> pb::Workout {
    let (workout_type, d) = match e.body {
        EventBody::Workout {
            workout_type,
            details,
        } => (workout_type, details),
        EventBody::Sleep(_) => (String::new(), WorkoutDetails::default()),
    };
    pb::Workout {
        name: format!("users/{}/workouts/{}", e.user_id, e.id),
        data_source: source_name(e.user_id, e.source_uid),
        workout_type,
        start_time: timestamp_ms(e.start),
        end_time: timestamp_ms(e.end),
        zone_offset: e.zone_offset,
        distance_meters: d.distance_m,
        active_energy_kcal: d.active_energy_kcal,
        steps: d.steps,
        heart_rate_avg: d.heart_rate_avg,
        heart_rate_max: d.heart_rate_max,
        elevation_gain_meters: d.elevation_gain_m,
        moving_seconds: d.moving_seconds,
        create_time: timestamp(e.created_at),
        update_time: timestamp(e.updated_at),
    }
}

fn sleep_session(e: Event) -> pb::SleepSession {
    let s = match e.body {
        EventBody::Sleep(s) => s,
        EventBody::Workout { .. } => SleepDetails::default(),
    };
    pb::SleepSession {
        name: format!("users/{}/sleepSessions/{}", e.user_id, e.id),
        data_source: source_name(e.user_id, e.source_uid),
        start_time: timestamp_ms(e.start),
        end_time: timestamp_ms(e.end),
        zone_offset: e.zone_offset,
        nap: s.nap,
        efficiency_percent: s.efficiency_percent,
        end_zone_offset: s.end_zone_offset,
        stages: s
            .stages
            .into_iter()
            .map(|st| pb::SleepStageInterval {
                stage: stage_value(&st.stage),
                start_time: timestamp_ms(st.start),
                end_time: timestamp_ms(st.end),
            })
            .collect(),
        create_time: timestamp(e.created_at),
        update_time: timestamp(e.updated_at),
    }
}

#[tonic::async_trait]
impl EventService for EventApi {
    async fn list_workout_types(
        &self,
        request: Request<pb::ListWorkoutTypesRequest>,
    ) -> Result<Response<pb::ListWorkoutTypesResponse>, Status> {
        caller(&self.0, &request).await?;
        let workout_types = WORKOUT_TYPES
            .iter()
            .map(|c| pb::WorkoutType {
                name: format!("workoutTypes/{c}"),
                code: (*c).into(),
            })
            .collect();
        Ok(Response::new(pb::ListWorkoutTypesResponse {
            workout_types,
            next_page_token: String::new(),
        }))
    }

    async fn write_workouts(
        &self,
        request: Request<pb::WriteWorkoutsRequest>,
    ) -> Result<Response<pb::WriteWorkoutsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let mut v = Violations::new();
        let events = r
            .workouts
            .into_iter()
            .enumerate()
            .map(|(i, w)| NewEvent {
                start: required_millis(w.start_time, &format!("workouts[{i}].start_time"), &mut v),
                end: required_millis(w.end_time, &format!("workouts[{i}].end_time"), &mut v),
                zone_offset: w.zone_offset,
                body: EventBody::Workout {
                    workout_type: w.workout_type,
                    details: WorkoutDetails {
                        distance_m: w.distance_meters,
                        active_energy_kcal: w.active_energy_kcal,
                        steps: w.steps,
                        heart_rate_avg: w.heart_rate_avg,
                        heart_rate_max: w.heart_rate_max,
                        elevation_gain_m: w.elevation_gain_meters,
                        moving_seconds: w.moving_seconds,
                    },
                },
            })
            .collect();
        v.finish()?;
        let written = Events(&self.0)
            .write(&caller, user, source_key(r.source), events)
            .await?;
        Ok(Response::new(pb::WriteWorkoutsResponse {
            stats: stats(written),
        }))
    }

    async fn write_sleep_sessions(
        &self,
        request: Request<pb::WriteSleepSessionsRequest>,
    ) -> Result<Response<pb::WriteSleepSessionsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let mut v = Violations::new();
        let events = r
            .sleep_sessions
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let at = format!("sleep_sessions[{i}]");
                let stages = s
                    .stages
                    .into_iter()
                    .enumerate()
                    .map(|(j, st)| StageInterval {
                        stage: stage_key(st.stage),
                        start: required_millis(
                            st.start_time,
                            &format!("{at}.stages[{j}].start_time"),
                            &mut v,
                        ),
                        end: required_millis(
                            st.end_time,
                            &format!("{at}.stages[{j}].end_time"),
                            &mut v,
                        ),
                    })
                    .collect();
                NewEvent {
                    start: required_millis(s.start_time, &format!("{at}.start_time"), &mut v),
                    end: required_millis(s.end_time, &format!("{at}.end_time"), &mut v),
                    zone_offset: s.zone_offset,
                    body: EventBody::Sleep(SleepDetails {
                        nap: s.nap,
                        efficiency_percent: s.efficiency_percent,
                        stages,
                        end_zone_offset: s.end_zone_offset,
                    }),
                }
            })
            .collect();
        v.finish()?;
        let written = Events(&self.0)
            .write(&caller, user, source_key(r.source), events)
            .await?;
        Ok(Response::new(pb::WriteSleepSessionsResponse {
            stats: stats(written),
        }))
    }

    async fn list_workouts(
        &self,
        request: Request<pb::ListWorkoutsRequest>,
    ) -> Result<Response<pb::ListWorkoutsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let (user_id, start, end) = user_and_range(&r.parent, r.time_range)?;
        let query = EventQuery {
            user_id,
            category: Category::Workout,
            workout_types: r.workout_types,
            start,
            end,
            after: None,
            limit: 0,
        };
        let (rows, next_page_token) = Events(&self.0)
            .list(
                &caller,
                query,
                r.page_size,
                &r.page_token,
                r.view == pb::View::Merged as i32,
            )
            .await?;
        Ok(Response::new(pb::ListWorkoutsResponse {
            workouts: rows.into_iter().map(workout).collect(),
            next_page_token,
        }))
    }

    async fn get_workout(
        &self,
        request: Request<pb::GetWorkoutRequest>,
    ) -> Result<Response<pb::Workout>, Status> {
        let caller = caller(&self.0, &request).await?;
        let (user, id) = one_child_name(&request.get_ref().name, "users", "workouts", "name")?;
        Ok(Response::new(workout(
            Events(&self.0)
                .get(&caller, user, id, Category::Workout)
                .await?,
        )))
    }

    async fn list_sleep_sessions(
        &self,
        request: Request<pb::ListSleepSessionsRequest>,
    ) -> Result<Response<pb::ListSleepSessionsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let (user_id, start, end) = user_and_range(&r.parent, r.time_range)?;
        let query = EventQuery {
            user_id,
            category: Category::Sleep,
            workout_types: vec![],
            start,
            end,
            after: None,
            limit: 0,
        };
        let (rows, next_page_token) = Events(&self.0)
            .list(
                &caller,
                query,
                r.page_size,
                &r.page_token,
                r.view == pb::View::Merged as i32,
            )
            .await?;
        Ok(Response::new(pb::ListSleepSessionsResponse {
            sleep_sessions: rows.into_iter().map(sleep_session).collect(),
            next_page_token,
        }))
    }

    async fn delete_events(
        &self,
        request: Request<pb::DeleteEventsRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let (user, start, end) = user_and_range(&r.parent, r.time_range)?;
        let source = if r.data_source.is_empty() {
            None
        } else {
            Some(one_name(
                &r.data_source,
                &format!("{}/dataSources", r.parent),
                "data_source",
            )?)
        };
        Events(&self.0)
            .delete(&caller, user, source, start, end)
            .await?;
        Ok(Response::new(()))
    }
}
