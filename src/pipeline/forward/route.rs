//! Stage: the route. The requested model resolved to its registered id and
//! targets, the credentials the scheduler may lease for it, and the session
//! key for affinity, as a [`RetryPlan`] the attempt loop draws leases from.

use super::*;

/// A routed request: what the attempts need from the registry.
pub(super) struct Routed<'a> {
    /// The registered id that matched.
    pub model: &'a str,
    /// The thinking suffix (`high` for `model(high)`), split off by the
    /// registry and parsed once here; carried to every attempt.
    pub suffix: Option<crate::translate::thinking::Suffix>,
    /// Where the id is served, in config order.
    pub targets: &'a [crate::state::Target],
    /// The client's headers as (name, value) pairs, collected once per
    /// request for session affinity and `payload` rule conditions; empty
    /// (not allocated) when neither is configured.
    pub headers: Vec<(&'a str, &'a [u8])>,
}

/// Why a request has no route.
pub(super) enum Unrouted {
    /// No registered model by that name (400, CLIProxyAPI's unknown-model body).
    UnknownModel,
    /// The model exists but no credential serves it (the scheduler's answer).
    NoCredential(ErrorAnswer),
}

/// The client's headers as (name, value) pairs.
fn header_pairs<'r>(req: &'r Request<'_>) -> Vec<(&'r str, &'r [u8])> {
    req.head
        .headers
        .iter()
        .map(|(n, v)| {
            (
                std::str::from_utf8(n.get(req.buf)).unwrap_or(""),
                v.get(req.buf),
            )
        })
        .collect()
}

/// Resolves `requested` and opens the retry plan over its credentials.
pub(super) fn route<'a>(
    w: &Worker,
    snap: &'a crate::state::Snapshot,
    req: &'a Request<'_>,
    requested: &'a str,
    body: &[u8],
) -> Result<(Routed<'a>, RetryPlan), Unrouted> {
    // Registry lookup: exact id, `model(suffix)`, Anthropic-list cloak, `auto`.
    let resolved = snap
        .registry
        .resolve(requested)
        .ok_or(Unrouted::UnknownModel)?;
    let model = resolved.id;
    let targets = snap.routes.get(model).ok_or(Unrouted::UnknownModel)?;
    // The provider names as `&str`s: on the stack (a route combines at most
    // `MAX_ROUTE_PROVIDERS`; a longer list, which only its error message
    // would show whole, takes a `Vec`).
    let names = snap
        .route_providers
        .get(model)
        .map_or(&[][..], Vec::as_slice);
    let mut small = [""; crate::credentials::MAX_ROUTE_PROVIDERS];
    let large: Vec<&str>;
    let providers: &[&str] = if names.len() <= small.len() {
        for (d, s) in small.iter_mut().zip(names) {
            *d = s.as_str();
        }
        &small[..names.len()]
    } else {
        large = names.iter().map(String::as_str).collect();
        &large
    };
    let route = w.shard.borrow_mut().route(model, providers);
    let Some(route) = route else {
        return Err(Unrouted::NoCredential(ErrorAnswer::auth_not_found(
            providers, model,
        )));
    };
    let affinity = w.shard.borrow().settings().session_affinity;
    let headers = if affinity || !snap.payload.is_empty() {
        header_pairs(req)
    } else {
        Vec::new()
    };
    let session = if affinity {
        extract_session_id(&headers, body).map(|s| s.key())
    } else {
        None
    };
    let plan = RetryPlan::new(&w.shard.borrow(), route, session);
    let routed = Routed {
        model,
        suffix: resolved
            .thinking_suffix
            .map(crate::translate::thinking::Suffix::parse),
        targets,
        headers,
    };
    Ok((routed, plan))
}
