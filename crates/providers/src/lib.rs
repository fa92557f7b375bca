//! Outbound HTTP adapters (Places API searchText, WhatsApp Cloud API, OpenAI-compatible chat
//! completions, HubSpot, Slack), the website surveyor with its SSRF guard, and a local dev double of
//! each. Empty until the capabilities that need them land: the foundation reaches no outside service.
