//! Image URLs fetched into base64 for Converse, which takes image bytes only (AWS
//! `ImageSource`: `bytes`, or an S3 location). Limits: `http`/`https` only, at most
//! [`MAX_IMAGE_BYTES`] (Bedrock's per-image limit), [`FETCH_TIMEOUT`] per image, and a PNG, JPEG,
//! GIF or WebP content type. A URL that breaks a limit fails the request with an
//! `invalid_request_error` naming the URL (credentials redacted) and the limit.

use crate::upstream::{Upstream, UpstreamError};
use base64::Engine;
use protocol::ir::{ApiError, ErrorKind, ImageSource, Part, Request};
use std::time::Duration;

/// Largest image fetched, in bytes (Bedrock Converse: 3.75 MB per image).
pub const MAX_IMAGE_BYTES: usize = 3_750_000;
/// Longest wait for one image.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
const TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

fn has_url_image(parts: &[Part]) -> bool {
    parts.iter().any(|p| match p {
        Part::Image(ImageSource::Url(u)) => !u.starts_with("data:"),
        Part::ToolResult(r) => has_url_image(&r.content),
        _ => false,
    })
}

/// Whether `req` holds an image given by a URL other than `data:`.
pub fn has_url_images(req: &Request) -> bool {
    req.messages.iter().any(|m| has_url_image(&m.content))
}

/// A copy of `req` with every non-`data:` image URL replaced by the fetched image.
pub async fn inline(up: &Upstream, req: &Request) -> Result<Request, UpstreamError> {
    let mut req = req.clone();
    for m in &mut req.messages {
        inline_parts(up, &mut m.content).await?;
    }
    Ok(req)
}

async fn inline_parts(up: &Upstream, parts: &mut [Part]) -> Result<(), UpstreamError> {
    for p in parts {
        match p {
            Part::Image(src @ ImageSource::Url(_)) => {
                if let ImageSource::Url(u) = &*src
                    && !u.starts_with("data:")
                {
                    *src = fetch(up, u).await?;
                }
            }
            Part::ToolResult(r) => Box::pin(inline_parts(up, &mut r.content)).await?,
            _ => {}
        }
    }
    Ok(())
}

fn refused(url: &str, why: String) -> UpstreamError {
    UpstreamError::fatal(ApiError::new(
        ErrorKind::InvalidRequest,
        format!(
            "the image at {} cannot be sent to Bedrock, which takes image bytes only: {why}",
            crate::redact::url(url)
        ),
    ))
}

async fn fetch(up: &Upstream, url: &str) -> Result<ImageSource, UpstreamError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| refused(url, format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused(
            url,
            format!(
                "only http and https URLs are fetched, not {}",
                parsed.scheme()
            ),
        ));
    }
    let get = async {
        let mut resp = up
            .client()?
            .get(parsed)
            .send()
            .await
            .map_err(|e| refused(url, crate::upstream::deepest_cause(&e)))?;
        if !resp.status().is_success() {
            return Err(refused(url, format!("it answered {}", resp.status())));
        }
        let media_type = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !TYPES.contains(&media_type.as_str()) {
            return Err(refused(
                url,
                format!("its content type `{media_type}` is not PNG, JPEG, GIF or WebP"),
            ));
        }
        let mut data = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| refused(url, crate::upstream::deepest_cause(&e)))?
        {
            data.extend_from_slice(&chunk);
            if data.len() > MAX_IMAGE_BYTES {
                return Err(refused(
                    url,
                    format!("it is larger than {MAX_IMAGE_BYTES} bytes"),
                ));
            }
        }
        Ok(ImageSource::Base64 {
            media_type,
            data: base64::engine::general_purpose::STANDARD.encode(&data),
        })
    };
    tokio::time::timeout(FETCH_TIMEOUT, get)
        .await
        .map_err(|_| {
            refused(
                url,
                format!("it did not arrive within {} s", FETCH_TIMEOUT.as_secs()),
            )
        })?
}
