//! `/api/v1/imports`, `/api/v1/exports`, `/api/v1/jobs` (with server-sent events).

use crate::auth::Authed;
use crate::dto::PageDto;
use crate::leads::{LeadFilterBody, list_params};
use crate::openapi::enums;
use crate::problem::ApiError;
use crate::typed::{Json, check_query};
use crate::{HttpState, path_id, query_pairs, query_param};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures::SinkExt;
use futures::StreamExt;
use leadzone_app::AppError;
use leadzone_app::Ctx;
use leadzone_app::files::{BlobRef, DOWNLOAD_CHUNK};
use leadzone_app::imports::{ImportOptions, ImportUpload, MAX_IMPORT_BYTES};
use leadzone_app::jobs::JobListParams;
use leadzone_domain::entities::{Job, JobLog};
use leadzone_domain::enums::{JobEntityType, JobStatus, JobType, LogLevel};
use leadzone_domain::ids::{JobId, ListId};
use leadzone_ports::RepoError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Why a job failed.
#[derive(Serialize, ToSchema)]
pub struct JobErrorDto {
    /// A stable code (`VALIDATION_FAILED`, `INTERNAL`, `FAILED`…).
    code: String,
    message: String,
}

/// A background job as clients see it: internal input keys (where the upload is kept, the
/// request hash) are not shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDto {
    id: Uuid,
    tenant_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = enums::JobType, rename = "type")]
    kind: JobType,
    #[schema(value_type = enums::JobStatus)]
    status: JobStatus,
    #[schema(minimum = 0, maximum = 100)]
    progress: i32,
    /// What the job is doing now, in words.
    message: Option<String>,
    #[schema(value_type = Option<enums::JobEntityType>)]
    entity_type: Option<JobEntityType>,
    entity_id: Option<Uuid>,
    /// What the job was asked to do.
    #[schema(value_type = Option<Object>)]
    input: Option<Value>,
    /// What the job produced (its checkpoint while it runs).
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    error: Option<JobErrorDto>,
    created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    completed_at: Option<OffsetDateTime>,
    /// Runs started so far (a retried job runs again).
    #[schema(minimum = 0)]
    attempts: i32,
    /// Cancellation was asked for while it ran: it stops at its next checkpoint.
    cancel_requested: bool,
}

impl From<&Job> for JobDto {
    fn from(j: &Job) -> Self {
        let input = j.input.clone().map(|mut i| {
            if let Some(o) = i.as_object_mut() {
                o.remove("blobKey");
                o.remove("requestHash");
            }
            i
        });
        Self {
            id: j.id.as_uuid(),
            tenant_id: j.tenant_id.as_uuid(),
            kind: j.kind,
            status: j.status,
            progress: j.progress,
            message: j.message.clone(),
            entity_type: j.entity_type,
            entity_id: j.entity_id,
            input,
            result: j.result.clone(),
            error: j.error.as_ref().map(|e| JobErrorDto { code: e.code.clone(), message: e.message.clone() }),
            created_by: j.created_by.as_uuid(),
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
            attempts: j.attempts,
            cancel_requested: j.cancel_requested,
        }
    }
}

/// A job as JSON (the body of `GET /jobs/{id}` and of each server-sent event).
pub fn job_json(j: &Job) -> Value {
    serde_json::to_value(JobDto::from(j)).unwrap_or(Value::Null)
}

/// `{"job": …}`: the answer of an endpoint that starts work (202, `Location: /api/v1/jobs/{id}`).
#[derive(Serialize, ToSchema)]
pub struct JobAcceptedDto {
    job: JobDto,
}

/// One line of a job's log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogDto {
    id: Uuid,
    job_id: Uuid,
    #[schema(value_type = enums::LogLevel)]
    level: LogLevel,
    message: String,
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&JobLog> for JobLogDto {
    fn from(l: &JobLog) -> Self {
        Self {
            id: l.id.as_uuid(),
            job_id: l.job_id.as_uuid(),
            level: l.level,
            message: l.message.clone(),
            data: l.data.clone(),
            created_at: l.created_at,
        }
    }
}

/// The answer to a `POST /leads/{id}/…` that starts a job about one lead: the lead's id from the
/// path, the Idempotency-Key, `start`, then 202 with the job.
pub(crate) async fn start_lead_job<F, Fut>(req: &HttpRequest, id: &str, start: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(leadzone_domain::ids::LeadId, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Job, bool), AppError>>,
{
    let id = crate::path_id(id)?;
    let key = idempotency_key(req)?;
    let (job, _) = start(id, key).await?;
    Ok(accepted(&job))
}

pub fn accepted(job: &Job) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/jobs/{}", job.id)))
        .json(JobAcceptedDto { job: JobDto::from(job) })
}

pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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

async fn read_limited<S, E>(payload: &mut S, limit: usize) -> Result<Vec<u8>, ApiError>
where
    S: futures::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
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

/// `POST /imports`'s query string (a `text/csv` body's options).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ImportQuery {
    /// A static list the imported leads join.
    list_id: Option<Uuid>,
    /// Check every row and report, creating nothing.
    dry_run: Option<bool>,
}

/// `POST /imports` as `multipart/form-data`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ImportForm {
    /// The CSV file (UTF-8 with or without BOM, or Windows-1256; `,` or `;`), at most 50 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// A JSON object of CSV column → lead field, for headers that are not recognised by name.
    mapping: Option<String>,
    /// A static list the imported leads join.
    list_id: Option<Uuid>,
    /// Check every row and report, creating nothing.
    dry_run: Option<bool>,
}

#[utoipa::path(
    tag = "jobs",
    params(
        ImportQuery,
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key within 24 h returns the first answer (same status and body) and starts nothing"),
    ),
    request_body(
        description = "The CSV file itself (options in the query string), or a form with `file`, `mapping`, `listId`, `dryRun`",
        content(
            (String = "text/csv"),
            (ImportForm = "multipart/form-data"),
        ),
    ),
    security(("bearer" = [])),
    responses((status = 202, description = "The IMPORT job, enqueued; `Location` names it", body = JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/imports")]
async fn import(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let q = query_pairs(&req)?;
    check_query::<ImportQuery>(&q)?;
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut options = ImportOptions {
        list_id: list_param(query_param(&q, "listId"))?,
        dry_run: bool_param(query_param(&q, "dryRun"), "dryRun")?,
        ..Default::default()
    };
    let mut upload: Option<ImportUpload> = None;
    let read = async {
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
            // Bytes of form fields that are not ours.
            let mut other = 0usize;
            while let Some(field) = multipart.next().await {
                let mut field = field.map_err(|e| ApiError::BadRequest(e.to_string()))?;
                let name = field.name().unwrap_or("").to_owned();
                if name == "file" {
                    if upload.is_some() {
                        return Err(AppError::field("file", "must be sent once").into());
                    }
                    upload = Some(stream_upload(&state, &ctx, &mut field).await?);
                    continue;
                }
                if !matches!(name.as_str(), "mapping" | "listId" | "dryRun") {
                    // Not ours: read past it, within the request's limit, and keep nothing.
                    while let Some(chunk) = field.next().await {
                        other += chunk.map_err(|e| ApiError::BadRequest(e.to_string()))?.len();
                        if other > MAX_IMPORT_BYTES {
                            return Err(ApiError::PayloadTooLarge);
                        }
                    }
                    continue;
                }
                let data = read_limited(&mut field, MAX_FORM_FIELD_BYTES).await?;
                let text = || String::from_utf8_lossy(&data).trim().to_owned();
                match name.as_str() {
                    "mapping" => {
                        options.mapping = serde_json::from_slice::<HashMap<String, String>>(&data)
                            .map_err(|_| AppError::field("mapping", "must be a JSON object of column → field"))?
                    }
                    "listId" => options.list_id = list_param(Some(text()))?,
                    "dryRun" => options.dry_run = bool_param(Some(text()), "dryRun")?,
                    _ => {}
                }
            }
            Ok(())
        } else if content_type.starts_with("text/csv")
            || content_type.starts_with("application/csv")
            || content_type.starts_with("text/plain")
        {
            upload = Some(stream_upload(&state, &ctx, &mut payload.into_inner()).await?);
            Ok(())
        } else {
            Err(AppError::field("Content-Type", "must be text/csv or multipart/form-data").into())
        }
    }
    .await;
    if let Err(e) = read {
        if let Some(u) = upload {
            state.app.imports.discard_import_upload(u).await;
        }
        return Err(e);
    }
    let Some(upload) = upload else {
        return Err(AppError::field("file", "is required").into());
    };
    let (job, _) = state.app.imports.start_import(&ctx, upload, options, key).await?;
    Ok(accepted(&job))
}

/// A form field besides the file (`mapping`, `listId`, `dryRun`) is small.
const MAX_FORM_FIELD_BYTES: usize = 64 * 1024;

/// Streams a request body, or a form's file field, into the app's upload as it arrives: at most
/// two pieces wait between the two. The body's own failure (a client that went away, more than
/// 50 MB) wins over the store's, which only saw its stream end in an error.
async fn stream_upload<S, E>(state: &HttpState, ctx: &Ctx, source: &mut S) -> Result<ImportUpload, ApiError>
where
    S: futures::Stream<Item = Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let (sink, body) = futures::channel::mpsc::channel::<Result<Vec<u8>, RepoError>>(2);
    let pump = async move {
        let mut sink = sink;
        let mut total = 0usize;
        while let Some(chunk) = source.next().await {
            let failure = match chunk {
                Ok(chunk) if total + chunk.len() <= MAX_IMPORT_BYTES => {
                    total += chunk.len();
                    if sink.send(Ok(chunk.to_vec())).await.is_err() {
                        // The store stopped reading; its error tells why.
                        return Ok(());
                    }
                    continue;
                }
                Ok(_) => ApiError::PayloadTooLarge,
                Err(e) => ApiError::BadRequest(e.to_string()),
            };
            let _ = sink.send(Err(RepoError::Other("the upload broke off".into()))).await;
            return Err(failure);
        }
        Ok(())
    };
    let (pumped, stored) = futures::join!(pump, state.app.imports.upload_import_file(ctx, Box::pin(body)));
    match (pumped, stored) {
        (Ok(()), stored) => Ok(stored?),
        (Err(e), Ok(upload)) => {
            state.app.imports.discard_import_upload(upload).await;
            Err(e)
        }
        (Err(e), Err(_)) => Err(e),
    }
}

/// A stored file as a streamed response body, read in chunks. The first chunk is read before the
/// answer starts, so a file that is not there is a 404 and not an empty 200; a read that fails
/// later breaks the response off (the client sees an incomplete body, never a shorter file).
async fn stream_file(state: &HttpState, file: BlobRef) -> Result<HttpResponse, ApiError> {
    let first = state.app.files.read_file(&file, 0, DOWNLOAD_CHUNK).await?;
    let app = state.app.clone();
    let stream = futures::stream::unfold((Some(first), 0u64, false), move |(chunk, offset, done)| {
        let (app, file) = (app.clone(), file.clone());
        async move {
            if done {
                return None;
            }
            let chunk = match chunk {
                Some(c) => c,
                None => match app.files.read_file(&file, offset, DOWNLOAD_CHUNK).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(error = %e, "a download broke off");
                        return Some((
                            Err(actix_web::error::ErrorInternalServerError("read failed")),
                            (None, offset, true),
                        ));
                    }
                },
            };
            if chunk.is_empty() {
                return None;
            }
            let next = offset + chunk.len() as u64;
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), (None, next, false)))
        }
    });
    Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").streaming(stream))
}

/// The only export format.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
}

/// `POST /exports`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportBody {
    /// The leads to export, with the keys of `GET /leads`' filters; absent: every visible lead.
    #[schema(value_type = Option<LeadFilterBody>)]
    filter: Option<Value>,
    #[allow(dead_code)]
    format: ExportFormat,
}

#[utoipa::path(
    tag = "jobs",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "The same key within 24 h returns the first answer (same status and body) and starts nothing")),
    request_body = ExportBody,
    security(("bearer" = [])),
    responses((status = 202, description = "The EXPORT job, enqueued; `Location` names it", body = JobAcceptedDto,
        headers(("Location" = String, description = "`/api/v1/jobs/{id}`"))))
)]
#[post("/exports")]
async fn export(
    state: web::Data<HttpState>,
    req: HttpRequest,
    Authed(ctx): Authed,
    Json(body): Json<ExportBody>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let raw_filter = match body.filter {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(f) => f,
    };
    // A `null` filter key would silently widen the export: leave the key out instead.
    if let Value::Object(map) = &raw_filter {
        let nulls: Vec<leadzone_domain::FieldError> = map
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| leadzone_domain::FieldError::new(format!("filter.{k}"), "must not be null (leave it out)"))
            .collect();
        if !nulls.is_empty() {
            return Err(AppError::Validation(nulls).into());
        }
    }
    let filter: LeadFilterBody = crate::typed::parse(raw_filter.clone())?;
    let (job, _) = state.app.exports.start_export(&ctx, list_params(filter.into_pairs()), raw_filter, key).await?;
    Ok(accepted(&job))
}

/// `GET /jobs`' filters and page.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct JobListQuery {
    #[serde(rename = "type")]
    #[param(value_type = Option<enums::JobType>)]
    kind: Option<String>,
    #[param(value_type = Option<enums::JobStatus>)]
    status: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    tag = "jobs",
    params(JobListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of the jobs the caller may see, newest first", body = PageDto<JobDto>))
)]
#[get("/jobs")]
async fn list(state: web::Data<HttpState>, req: HttpRequest, Authed(ctx): Authed) -> Result<HttpResponse, ApiError> {
    let q = query_pairs(&req)?;
    check_query::<JobListQuery>(&q)?;
    let page = state
        .app
        .jobs
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
    Ok(HttpResponse::Ok().json(PageDto::<JobDto>::of(&page)))
}

#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The job", body = JobDto))
)]
#[get("/jobs/{id}")]
async fn one(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(JobDto::from(&state.app.jobs.get_job(&ctx, path_id(&id)?).await?)))
}

#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The job's log, oldest first (its first 1,000 lines)", body = PageDto<JobLogDto>))
)]
#[get("/jobs/{id}/logs")]
async fn logs(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.app.jobs.job_logs(&ctx, path_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(PageDto::<JobLogDto>::all(&rows)))
}

#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The job: CANCELLED when it was PENDING; `cancelRequested` when it is RUNNING", body = JobDto))
)]
#[post("/jobs/{id}/cancel")]
async fn cancel(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(JobDto::from(&state.app.jobs.cancel_job(&ctx, path_id(&id)?).await?)))
}

/// One server-sent event as Schemathesis and browsers read it: its name and its `data` line (the
/// job as JSON text).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SseEvent {
    /// `progress` or `done`.
    event: String,
    /// The job, as JSON text.
    data: String,
}

/// `text/event-stream`: a `progress` event whenever the job changes, a final `done` event.
#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Server-sent events: `event: progress` with the job (JSON) on each change, then `event: done` with the finished job", content_type = "text/event-stream", body = SseEvent))
)]
#[get("/jobs/{id}/events")]
async fn events(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: JobId = path_id(&id)?;
    let first = state.app.jobs.get_job(&ctx, id).await?;
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
                        match app.jobs.get_job(&ctx, id).await {
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

#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The EXPORT job's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The exported leads: UTF-8 CSV with a BOM", content_type = "text/csv", body = String,
        headers(("Content-Disposition" = String, description = "`attachment; filename=\"leads-{id}.csv\"`"))))
)]
#[get("/exports/{id}/download")]
async fn download(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: JobId = path_id(&id)?;
    let file = state.app.exports.export_file(&ctx, id).await?;
    let mut res = stream_file(&state, file).await?;
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_str(&format!("attachment; filename=\"leads-{id}.csv\""))
            .map_err(|e| ApiError::from(AppError::Internal(e.to_string())))?,
    );
    Ok(res)
}

#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The finished IMPORT job's id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The rejected rows: the row number and reason, then the row as it was (UTF-8 CSV with a BOM)", content_type = "text/csv", body = String))
)]
#[get("/imports/{id}/errors.csv")]
async fn import_errors(
    state: web::Data<HttpState>,
    Authed(ctx): Authed,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = state.app.imports.import_errors_file(&ctx, path_id(&id)?).await?;
    let mut res = stream_file(&state, file).await?;
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_static("attachment; filename=\"import-errors.csv\""),
    );
    Ok(res)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
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
