//! Google Places API (New) Text Search: `POST {base}/v1/places:searchText` with the key in
//! `X-Goog-Api-Key` and exactly the fields Leadzone uses in `X-Goog-FieldMask` (billing follows
//! the highest SKU asked for). The next page is the same body plus `pageToken`.

use crate::outbound::{Answer, Outbound, OutboundConfig, OutboundSetupError, endpoint, provider_message};
use leadzone_ports::discovery::{ApiKey, Place, PlaceQuery, PlacesPage, PlacesProvider, ProviderError};
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

/// Google's own endpoint.
pub const GOOGLE_PLACES_BASE_URL: &str = "https://places.googleapis.com";

/// The path of Text Search (what the logs show).
pub const SEARCH_TEXT_PATH: &str = "/v1/places:searchText";

/// Exactly the fields mapped into [`Place`], plus the next page's token.
pub const SEARCH_FIELD_MASK: &str = "places.id,places.displayName,places.internationalPhoneNumber,places.websiteUri,\
places.primaryTypeDisplayName,places.types,places.addressComponents,places.googleMapsUri,places.rating,\
places.userRatingCount,nextPageToken";

/// The IDs-only field mask (the free SKU) `check_key` asks for.
pub const CHECK_KEY_FIELD_MASK: &str = "places.id";

/// Google's largest page.
pub const MAX_PAGE_SIZE: u32 = 20;

const PROVIDER: &str = "Google Places";

/// The Google Places (New) adapter.
#[derive(Debug, Clone)]
pub struct GooglePlaces {
    outbound: Outbound,
    search_url: url::Url,
}

impl GooglePlaces {
    /// An adapter talking to `base_url` ([`GOOGLE_PLACES_BASE_URL`] in production, a local fake in
    /// tests) within the limits of `config`.
    ///
    /// # Errors
    /// When the base URL is not usable or the client cannot be built.
    pub fn new(base_url: &str, config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        Ok(Self { search_url: endpoint(base_url, SEARCH_TEXT_PATH)?, outbound: Outbound::new(PROVIDER, config)? })
    }

    async fn search_text(
        &self,
        key: &ApiKey,
        field_mask: &'static str,
        body: &SearchTextRequest<'_>,
    ) -> Result<Answer, ProviderError> {
        let mut key_header = HeaderValue::from_str(key.expose()).map_err(|_| {
            ProviderError::Unauthorized(
                "Google Places API key contains characters an HTTP header cannot carry".to_owned(),
            )
        })?;
        key_header.set_sensitive(true);
        let answer = self
            .outbound
            .send(SEARCH_TEXT_PATH, crate::outbound::is_throttled_or_failing, |client| {
                client
                    .post(self.search_url.clone())
                    .header("X-Goog-Api-Key", key_header.clone())
                    .header("X-Goog-FieldMask", field_mask)
                    .json(body)
            })
            .await?;
        if answer.is_success() { Ok(answer) } else { Err(places_error(&answer, key)) }
    }
}

#[async_trait::async_trait]
impl PlacesProvider for GooglePlaces {
    async fn search_page(
        &self,
        key: &ApiKey,
        query: &PlaceQuery,
        page_token: Option<String>,
    ) -> Result<PlacesPage, ProviderError> {
        let body = SearchTextRequest {
            text_query: &query.text,
            language_code: &query.language,
            region_code: "sa",
            page_size: query.page_size.clamp(1, MAX_PAGE_SIZE),
            page_token: page_token.as_deref().filter(|t| !t.is_empty()),
        };
        let answer = self.search_text(key, SEARCH_FIELD_MASK, &body).await?;
        parse_search_answer(&answer.body)
    }

    async fn check_key(&self, key: &ApiKey) -> Result<(), ProviderError> {
        let body = SearchTextRequest {
            text_query: "Riyadh",
            language_code: "en",
            region_code: "sa",
            page_size: 1,
            page_token: None,
        };
        self.search_text(key, CHECK_KEY_FIELD_MASK, &body).await.map(|_| ())
    }
}

/// Pages through `query` until `max_results` places or no next page, whichever comes first; the
/// result is truncated to `max_results`. (The SEARCH job pages itself to record progress; this is
/// the same loop for callers that just want the places.)
///
/// # Errors
/// The first page's error, as the provider returned it.
pub async fn search_all(
    provider: &dyn PlacesProvider,
    key: &ApiKey,
    query: &PlaceQuery,
    max_results: usize,
) -> Result<Vec<Place>, ProviderError> {
    let mut places = Vec::new();
    let mut token = None;
    while places.len() < max_results {
        let page = provider.search_page(key, query, token.take()).await?;
        let got = page.places.len();
        places.extend(page.places);
        match page.next_page_token.filter(|t| !t.is_empty()) {
            // An empty page with a token would loop for ever: stop there too.
            Some(next) if got > 0 => token = Some(next),
            _ => break,
        }
    }
    places.truncate(max_results);
    Ok(places)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchTextRequest<'a> {
    text_query: &'a str,
    language_code: &'a str,
    region_code: &'a str,
    page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchTextResponse {
    #[serde(default)]
    places: Vec<GooglePlace>,
    next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GooglePlace {
    id: Option<String>,
    display_name: Option<LocalizedText>,
    international_phone_number: Option<String>,
    website_uri: Option<String>,
    primary_type_display_name: Option<LocalizedText>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    address_components: Vec<AddressComponent>,
    google_maps_uri: Option<String>,
    rating: Option<f64>,
    user_rating_count: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct LocalizedText {
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressComponent {
    long_text: Option<String>,
    #[serde(default)]
    types: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleErrorBody {
    error: Option<GoogleError>,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleError {
    message: Option<String>,
    status: Option<String>,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_search_answer(body: &[u8]) -> Result<PlacesPage, ProviderError> {
    let response: SearchTextResponse = if body.iter().all(u8::is_ascii_whitespace) {
        SearchTextResponse::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ProviderError::Rejected(format!("Google Places sent an answer that is not the expected JSON ({e})"))
        })?
    };
    Ok(PlacesPage {
        places: response.places.into_iter().filter_map(map_place).collect(),
        next_page_token: non_empty(response.next_page_token),
    })
}

fn map_place(place: GooglePlace) -> Option<Place> {
    let place_id = non_empty(place.id)?;
    let name = non_empty(place.display_name.and_then(|n| n.text))?;
    let category = non_empty(place.primary_type_display_name.and_then(|t| t.text))
        .or_else(|| place.types.first().cloned().filter(|t| !t.is_empty()));
    let city = place
        .address_components
        .into_iter()
        .find(|c| c.types.iter().any(|t| t == "locality"))
        .and_then(|c| non_empty(c.long_text));
    Some(Place {
        place_id,
        name,
        phone: non_empty(place.international_phone_number),
        website: non_empty(place.website_uri),
        category,
        types: place.types,
        city,
        maps_url: non_empty(place.google_maps_uri),
        rating: place.rating,
        rating_count: place.user_rating_count,
    })
}

/// A failing answer (after the retries) as the port's error, in Google's own words.
fn places_error(answer: &Answer, key: &ApiKey) -> ProviderError {
    let error = serde_json::from_slice::<GoogleErrorBody>(&answer.body).ok().and_then(|b| b.error).unwrap_or_default();
    let message = non_empty(error.message).map(|m| provider_message(&m, key));
    let status = non_empty(error.status).map(|s| provider_message(&s, key));
    let code = answer.status;
    // ": <Google's words> (<STATUS>)", or the HTTP status when it said nothing readable.
    let said = match (&message, &status) {
        (Some(m), Some(s)) => format!(": {m} ({s})"),
        (Some(m), None) => format!(": {m}"),
        (None, Some(s)) => format!(": {s} (HTTP {code})"),
        (None, None) => format!(" (HTTP {code})"),
    };
    // Google answers an unknown key with 400 INVALID_ARGUMENT and the reason API_KEY_INVALID.
    let key_problem = error
        .details
        .iter()
        .any(|d| d.get("reason").and_then(serde_json::Value::as_str).is_some_and(|r| r.starts_with("API_KEY_")));
    match code {
        401 | 403 => ProviderError::Unauthorized(format!("Google Places refused the API key{said}")),
        400 if key_problem => ProviderError::Unauthorized(format!("Google Places refused the API key{said}")),
        400 => ProviderError::Rejected(format!("Google Places refused the search{said}")),
        429 => ProviderError::RateLimited {
            message: format!(
                "Google Places is rate limiting this key ({}){}",
                status.as_deref().unwrap_or("RESOURCE_EXHAUSTED"),
                message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            ),
            retry_after: answer.retry_after,
        },
        500..=599 => ProviderError::Unavailable(format!("Google Places is unavailable (HTTP {code}){said}")),
        other => ProviderError::Rejected(format!("Google Places answered HTTP {other}{said}")),
    }
}
