//! The load generator: `concurrency` tasks share one HTTP/1.1 keep-alive client and send the
//! same request until `n` are done (or the time budget is spent), recording per request the time
//! to the first body byte and to the last.

use bytes::Bytes;
use reqwest::Client;
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One request, sent again and again.
pub struct Request {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Bytes that a complete, successful response contains (checked on every response).
    pub marker: &'static [u8],
}

/// An HTTP/1.1 client that keeps connections open, with no proxy and no Nagle delay.
pub fn client() -> anyhow::Result<Client> {
    Ok(Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .timeout(Duration::from_secs(300))
        .build()?)
}

/// Finds `marker` in a byte stream that arrives in chunks.
pub struct MarkerScan {
    marker: &'static [u8],
    carry: Vec<u8>,
    pub found: bool,
}

impl MarkerScan {
    pub fn new(marker: &'static [u8]) -> MarkerScan {
        MarkerScan {
            marker,
            carry: Vec::new(),
            found: marker.is_empty(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found {
            return;
        }
        let m = self.marker.len();
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(&chunk[..chunk.len().min(m - 1)]);
        if contains(&joined, self.marker) || contains(chunk, self.marker) {
            self.found = true;
            return;
        }
        if chunk.len() >= m - 1 {
            self.carry = chunk[chunk.len() - (m - 1)..].to_vec();
        } else {
            let start = joined.len().saturating_sub(m - 1);
            self.carry = joined[start..].to_vec();
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Timings of one successful request.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub ttfb: Duration,
    pub total: Duration,
    pub bytes: usize,
}

/// Sends the request once and reads the whole response.
pub async fn one(client: &Client, req: &Request) -> Result<Sample, String> {
    let t0 = Instant::now();
    let mut resp = client
        .post(&req.url)
        .headers(req.headers.clone())
        .body(req.body.clone())
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let mut ttfb = None;
    let mut bytes = 0;
    let mut scan = MarkerScan::new(req.marker);
    let mut head = Vec::new();
    while let Some(c) = resp.chunk().await.map_err(|e| format!("body: {e}"))? {
        if ttfb.is_none() {
            ttfb = Some(t0.elapsed());
        }
        bytes += c.len();
        scan.feed(&c);
        if head.len() < 400 {
            head.extend_from_slice(&c[..c.len().min(400 - head.len())]);
        }
    }
    let total = t0.elapsed();
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&head).trim()
        ));
    }
    if !scan.found {
        return Err(format!(
            "response lacks {:?}: {}",
            String::from_utf8_lossy(req.marker),
            String::from_utf8_lossy(&head).trim()
        ));
    }
    Ok(Sample {
        ttfb: ttfb.unwrap_or(total),
        total,
        bytes,
    })
}

/// The outcome of a run.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub n: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub ttfb_p50_ms: f64,
    pub ttfb_p99_ms: f64,
    pub resp_bytes: usize,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sends `n` requests (fewer if `max` elapses first) from `concurrency` tasks.
pub async fn run(
    client: &Client,
    req: &Arc<Request>,
    concurrency: usize,
    n: usize,
    max: Duration,
) -> RunStats {
    let issued = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, req, issued) = (client.clone(), req.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = Vec::new();
            let mut errors = Vec::new();
            while issued.fetch_add(1, Ordering::Relaxed) < n && start.elapsed() < max {
                match one(&client, &req).await {
                    Ok(s) => ok.push(s),
                    Err(e) => errors.push(e),
                }
            }
            (ok, errors)
        }));
    }
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok((s, e)) => {
                samples.extend(s);
                errors.extend(e);
            }
            Err(e) => errors.push(format!("task: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    summarize(&samples, errors, elapsed)
}

fn summarize(samples: &[Sample], errors: Vec<String>, elapsed: f64) -> RunStats {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut total: Vec<f64> = samples.iter().map(|s| ms(s.total)).collect();
    let mut ttfb: Vec<f64> = samples.iter().map(|s| ms(s.ttfb)).collect();
    total.sort_by(f64::total_cmp);
    ttfb.sort_by(f64::total_cmp);
    RunStats {
        n: samples.len(),
        errors: errors.len(),
        first_error: errors.into_iter().next(),
        elapsed_s: elapsed,
        rps: samples.len() as f64 / elapsed.max(1e-9),
        p50_ms: percentile(&total, 50.0),
        p99_ms: percentile(&total, 99.0),
        mean_ms: total.iter().sum::<f64>() / total.len().max(1) as f64,
        ttfb_p50_ms: percentile(&ttfb, 50.0),
        ttfb_p99_ms: percentile(&ttfb, 99.0),
        resp_bytes: samples.first().map_or(0, |s| s.bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn marker_found_across_chunks() {
        for split in 0..=12 {
            let text = b"data: message_stop\n";
            let mut s = MarkerScan::new(b"message_stop");
            s.feed(&text[..split]);
            s.feed(&text[split..]);
            assert!(s.found, "split at {split}");
        }
        let mut s = MarkerScan::new(b"message_stop");
        for b in b"xx message_st" {
            s.feed(&[*b]);
        }
        assert!(!s.found);
        s.feed(b"op");
        assert!(s.found);
        let mut s = MarkerScan::new(b"[DONE]");
        s.feed(b"data: [DON");
        s.feed(b"");
        s.feed(b"X]");
        assert!(!s.found);
    }
}
