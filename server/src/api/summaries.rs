//! `owl.v1.SummaryService` over gRPC: converts messages and delegates to
//! `domain::health::summaries`.

use std::sync::Arc;

use owl::pb;
use owl::pb::summary_service_server::SummaryService;
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::parse_name;
use crate::domain::Context;
use crate::domain::error::Error;
use crate::domain::health::events::EventBody;
use crate::domain::health::summaries::{DailySummary, SleepDay, Summaries, asleep_ms, parse_date};
use crate::domain::validate::Violations;

/// The SummaryService implementation.
pub struct SummaryApi(pub Arc<Context>);

fn sleep(day: SleepDay) -> Option<pb::SleepSummary> {
    if day == SleepDay::default() {
        return None;
    }
    let mut out = pb::SleepSummary {
        naps: day.naps,
        total_asleep_seconds: Some(day.total_asleep_ms / 1000),
        nap_asleep_seconds: Some(day.nap_asleep_ms / 1000),
        ..Default::default()
    };
    if let Some(main) = day.main {
        let EventBody::Sleep(details) = &main.body else {
            return Some(out);
        };
        let seconds = |stage: &str| -> i64 {
            details
                .stages
                .iter()
                .filter(|s| s.stage == stage)
                .map(|s| (s.end - s.start) / 1000)
                .sum()
        };
        let in_bed = (main.end - main.start) / 1000;
        let asleep = asleep_ms(&main) / 1000;
        out.main_session = format!("users/{}/sleepSessions/{}", main.user_id, main.id);
        out.asleep_seconds = Some(asleep);
        out.in_bed_seconds = Some(in_bed);
        out.efficiency_percent = details
            .efficiency_percent
            .or_else(|| (in_bed > 0).then(|| asleep as f64 * 100.0 / in_bed as f64));
        out.light_seconds = seconds("light");
        out.deep_seconds = seconds("deep");
        out.rem_seconds = seconds("rem");
        out.awake_seconds = seconds("awake");
    }
    Some(out)
}

fn summary(d: DailySummary) -> pb::DailySummary {
    let a = d.activity;
    let total = match (a.active_energy_kcal, a.basal_energy_kcal) {
        (None, None) => None,
        (active, basal) => Some(active.unwrap_or(0.0) + basal.unwrap_or(0.0)),
    };
    pb::DailySummary {
        date: d.date.to_string(),
        activity: Some(pb::ActivitySummary {
            steps: a.steps,
            distance_meters: a.distance_m,
            floors_climbed: a.floors,
            active_energy_kcal: a.active_energy_kcal,
            basal_energy_kcal: a.basal_energy_kcal,
            total_energy_kcal: total,
            active_minutes: a.active_minutes,
            heart_rate_min: a.heart_rate.map(|h| h.0),
            heart_rate_avg: a.heart_rate.map(|h| h.1),
            heart_rate_max: a.heart_rate.map(|h| h.2),
        }),
        sleep: sleep(d.sleep),
        body: Some(pb::BodySummary {
            weight_kg: d.body.weight_kg,
            height_cm: d.body.height_cm,
            body_fat_percent: d.body.body_fat_percent,
            body_mass_index: d.body.bmi,
        }),
        recovery: Some(pb::RecoverySummary {
            resting_heart_rate: d.recovery.resting_heart_rate,
            hrv_sdnn_ms: d.recovery.hrv_sdnn_ms,
            hrv_rmssd_ms: d.recovery.hrv_rmssd_ms,
            respiratory_rate: d.recovery.respiratory_rate,
            oxygen_saturation_percent: d.recovery.oxygen_saturation,
        }),
    }
}

#[tonic::async_trait]
impl SummaryService for SummaryApi {
    async fn list_daily_summaries(
        &self,
        request: Request<pb::ListDailySummariesRequest>,
    ) -> Result<Response<pb::ListDailySummariesResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let user = parse_name(&r.parent, "users", "parent", &mut v);
        let first = parse_date(&r.start_date, "start_date", &mut v);
        let last = parse_date(&r.end_date, "end_date", &mut v);
        v.finish()?;
        let (Some(user), Some(first), Some(last)) = (user, first, last) else {
            return Err(Error::invalid("parent", "is required").into());
        };
        let days = Summaries(&self.0).daily(&caller, user, first, last).await?;
        Ok(Response::new(pb::ListDailySummariesResponse {
            daily_summaries: days.into_iter().map(summary).collect(),
        }))
    }
}
