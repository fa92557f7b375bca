//! `/api/v1/imports`, `/api/v1/exports`, `/api/v1/jobs` (with server-sent events).

use crate::auth::Authed;
use crate::body::{Fields, JsonBody};
use crate::dto::PageDto;
use crate::problem::ApiError;
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures::StreamExt;
use leadzone_app::AppError;
use leadzone_app::imports::{ImportRequest, MAX_IMPORT_BYTES};
use leadzone_app::jobs::JobListParams;
use leadzone_domain::entities::{Job, JobLog};
use leadzone_domain::ids::{JobId, ListId};
use serde_json::{Value, json};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;

fn time(t: Option<time::OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok()).map(Value::String).unwrap_or(Value::Null)
}

/// A job as clients see it: internal input keys (where the upload is kept, the request hash) are
/// not shown.
pub fn job_json(j: &Job) -> Value {
    let input = j.input.clone().map(|mut i| {
        if let Some(o) = i.as_object_mut() {
            o.remove("blobKey");
            o.remove("requestHash");
        }
        i
    });
    json!({
        "id": j.id, "tenantId": j.tenant_id, "type": j.kind, "status": j.status, "progress": j.progress,
        "message": j.message, "entityType": j.entity_type, "entityId": j.entity_id, "input": input,
        "result": j.result, "error": j.error, "createdBy": j.created_by, "createdAt": time(Some(j.created_at)),
        "startedAt": time(j.started_at), "completedAt": time(j.completed_at), "attempts": j.attempts,
        "cancelRequested": j.cancel_requested,
    })
}

fn log_json(l: &JobLog) -> Value {
    json!({"id": l.id, "jobId": l.job_id, "level": l.level, "message": l.message, "data": l.data, "createdAt": time(Some(l.created_at))})
}

fn accepted(job: &Job) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/jobs/{}", job.id)))
        .json(json!({"job": job_json(job)}))
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .map(Some)
            .ok_or_else(|| AppError::field("Idempotency-Key", "must be 1–255 visible characters").into()),
    }
}

fn bool_param(raw: Option<String>, field: &str) -> Result<bool, ApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(AppError::field(field, "must be true or false").into()),
    }
}

fn list_param(raw: Option<String>) -> Result<Option<ListId>, ApiError> {
    match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| AppError::field("listId", "must be a list id (UUID)").into()),
    }
}

async fn read_limited(mut payload: actix_web::dev::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// `text/csv` body (options in the query string) or `multipart/form-data` with `file`, `mapping`,
/// `listId`, `dryRun`.
#[post("/imports")]
async fn import(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let q = query_pairs(&req)?;
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut request = ImportRequest {
        list_id: list_param(query_param(&q, "listId"))?,
        dry_run: bool_param(query_param(&q, "dryRun"), "dryRun")?,
        ..Default::default()
    };
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
        let mut total = 0usize;
        while let Some(field) = multipart.next().await {
            let mut field = field.map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let name = field.name().unwrap_or("").to_owned();
            let mut data = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?;
                total += chunk.len();
                if total > MAX_IMPORT_BYTES {
                    return Err(ApiError::PayloadTooLarge);
                }
                data.extend_from_slice(&chunk);
            }
            let text = || String::from_utf8_lossy(&data).trim().to_owned();
            match name.as_str() {
                "file" => request.file = data,
                "mapping" => {
                    request.mapping = serde_json::from_slice::<HashMap<String, String>>(&data)
                        .map_err(|_| AppError::field("mapping", "must be a JSON object of column → field"))?
                }
                "listId" => request.list_id = list_param(Some(text()))?,
                "dryRun" => request.dry_run = bool_param(Some(text()), "dryRun")?,
                _ => {}
            }
        }
    } else if content_type.starts_with("text/csv")
        || content_type.starts_with("application/csv")
        || content_type.starts_with("text/plain")
    {
        request.file = read_limited(payload.into_inner(), MAX_IMPORT_BYTES).await?;
    } else {
        return Err(AppError::field("Content-Type", "must be text/csv or multipart/form-data").into());
    }
    if request.file.is_empty() {
        return Err(AppError::field("file", "is required").into());
    }
    let (job, _) = state.app.start_import(&ctx, request, key).await?;
    Ok(accepted(&job))
}

#[post("/exports")]
async fn export(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let mut f = Fields::new(&body);
    if let Some(format) = f.opt_string("format")
        && format != "csv"
    {
        return Err(AppError::field("format", "must be csv").into());
    }
    let pairs = f.filter_pairs("filter", leadzone_app::leads::LEAD_FILTER_KEYS).unwrap_or_default();
    let raw_filter = f.opt_json("filter").unwrap_or_else(|| Value::Object(Default::default()));
    f.finish()?;
    let (job, _) = state.app.start_export(&ctx, crate::leads::list_params(pairs), raw_filter, key).await?;
    Ok(accepted(&job))
}

#[get("/jobs")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
    let page = state
        .app
        .list_jobs(
            &ctx,
            JobListParams {
                kind: query_param(&q, "type"),
                status: query_param(&q, "status"),
                limit: query_param(&q, "limit"),
                cursor: query_param(&q, "cursor"),
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .json(PageDto { data: page.data.iter().map(job_json).collect(), next_cursor: page.next_cursor }))
}

#[get("/jobs/{id}")]
async fn one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(job_json(&state.app.get_job(&ctx, path_id(&id)?).await?)))
}

#[get("/jobs/{id}/logs")]
async fn logs(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.app.job_logs(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(PageDto { data: rows.iter().map(log_json).collect(), next_cursor: None }))
}

#[post("/jobs/{id}/cancel")]
async fn cancel(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(job_json(&state.app.cancel_job(&ctx, path_id(&id)?).await?)))
}

/// `text/event-stream`: a `progress` event whenever the job changes, a final `done` event.
#[get("/jobs/{id}/events")]
async fn events(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: JobId = path_id(&id)?;
    let first = state.app.get_job(&ctx, id).await?;
    let app = state.app.clone();
    let stream = futures::stream::unfold((Some(first), None::<Value>, false), move |(next, last, done)| {
        let (app, ctx) = (app.clone(), ctx.clone());
        async move {
            if done {
                return None;
            }
            let mut job = next;
            loop {
                let current = match job.take() {
                    Some(j) => j,
                    None => {
                        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                        match app.get_job(&ctx, id).await {
                            Ok(j) => j,
                            Err(_) => return None,
                        }
                    }
                };
                let body = job_json(&current);
                if current.status.is_finished() {
                    let event = format!("event: progress\ndata: {body}\n\nevent: done\ndata: {body}\n\n");
                    return Some((Ok::<_, actix_web::Error>(web::Bytes::from(event)), (None, Some(body), true)));
                }
                if last.as_ref() != Some(&body) {
                    let event = format!("event: progress\ndata: {body}\n\n");
                    return Some((Ok(web::Bytes::from(event)), (None, Some(body), false)));
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("text/event-stream")
        .streaming(stream))
}

#[get("/exports/{id}/download")]
async fn download(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: JobId = path_id(&id)?;
    // The first chunk proves the export exists and is readable before the 200 goes out.
    let first = state.app.export_chunk(&ctx, id, 0, 256 * 1024).await?;
    let app = state.app.clone();
    let stream = futures::stream::unfold((Some(first), first_len_placeholder()), move |(chunk, offset)| {
        let (app, ctx) = (app.clone(), ctx.clone());
        async move {
            let chunk = match chunk {
                Some(c) => c,
                None => app.export_chunk(&ctx, id, offset, 256 * 1024).await.ok()?,
            };
            if chunk.is_empty() {
                return None;
            }
            let next = offset + chunk.len() as u64;
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), (None, next)))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"leads-{id}.csv\"")))
        .streaming(stream))
}

fn first_len_placeholder() -> u64 {
    0
}

#[get("/imports/{id}/errors.csv")]
async fn import_errors(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let bytes = state.app.import_errors_csv(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"import-errors.csv\""))
        .body(bytes))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(import)
        .service(export)
        .service(list)
        .service(one)
        .service(logs)
        .service(cancel)
        .service(events)
        .service(download)
        .service(import_errors);
}
