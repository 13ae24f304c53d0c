//! One request rate for a whole run: every request of every task asks the same
//! [`RateLimiter`] for a slot, so when the server answers 429 the whole run slows down
//! together (not each request on its own), and speeds up again when the 429s stop.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The server's documented limits (per IP): with a token and without one.
pub const TOKEN_LIMIT_PER_MIN: u32 = 1000;
pub const ANONYMOUS_LIMIT_PER_MIN: u32 = 100;

/// After this long without a 429, an adaptive limiter stops pacing altogether.
const CALM_AFTER: Duration = Duration::from_secs(60);
/// An adaptive limiter slows down at most this often.
const ADJUST_EVERY: Duration = Duration::from_secs(1);
/// The slowest an adaptive limiter goes: one request every 10 s.
const SLOWEST: Duration = Duration::from_secs(10);

/// How a run paces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateMode {
    /// As fast as the concurrency allows until the server answers 429; then paced at the
    /// server's documented limit, slower at each further 429, faster at each success.
    Adaptive { limit_per_min: u32 },
    /// Never more than this many requests a minute (`--rate N/min`).
    Fixed { per_min: u32 },
}

/// What the limiter is doing now (for messages and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    /// Requests a minute it paces to, `None` when not pacing.
    pub per_min: Option<u32>,
    /// 429 answers seen so far.
    pub throttled: u64,
}

#[derive(Debug)]
struct State {
    /// Time between two request starts; `None`: not pacing.
    interval: Option<Duration>,
    /// The earliest start of the next request.
    next: Instant,
    /// Nobody starts a request before this (a `Retry-After`).
    paused_until: Instant,
    last_throttle: Option<Instant>,
    throttled: u64,
}

/// A rate shared by all the requests of a run.
#[derive(Debug)]
pub struct RateLimiter {
    mode: RateMode,
    calm_after: Duration,
    state: Mutex<State>,
}

fn interval_for(per_min: u32) -> Duration {
    Duration::from_secs(60) / per_min.max(1)
}

impl RateLimiter {
    pub fn new(mode: RateMode) -> RateLimiter {
        let now = Instant::now();
        let interval = match mode {
            RateMode::Fixed { per_min } => Some(interval_for(per_min)),
            RateMode::Adaptive { .. } => None,
        };
        RateLimiter {
            mode,
            calm_after: CALM_AFTER,
            state: Mutex::new(State { interval, next: now, paused_until: now, last_throttle: None, throttled: 0 }),
        }
    }

    /// Adaptive, at the documented limit for a client with (or without) a token.
    pub fn adaptive(with_token: bool) -> RateLimiter {
        let limit_per_min = if with_token { TOKEN_LIMIT_PER_MIN } else { ANONYMOUS_LIMIT_PER_MIN };
        RateLimiter::new(RateMode::Adaptive { limit_per_min })
    }

    pub fn state(&self) -> RateState {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        RateState { per_min: s.interval.map(|iv| (60.0 / iv.as_secs_f64()).round() as u32), throttled: s.throttled }
    }

    /// Takes the next slot: returns when this request may start.
    pub fn reserve(&self) -> Instant {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let (RateMode::Adaptive { .. }, Some(at)) = (self.mode, s.last_throttle) {
            if now.duration_since(at) >= self.calm_after {
                s.interval = None;
                s.last_throttle = None;
            }
        }
        let start = now.max(s.next).max(s.paused_until);
        if let Some(iv) = s.interval {
            s.next = start + iv;
        }
        start
    }

    /// The server answered 429: everyone slows down (adaptive), and nobody starts before
    /// `retry_after` when the server gave one.
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.throttled += 1;
        if let Some(after) = retry_after {
            s.paused_until = s.paused_until.max(now + after);
        }
        if let RateMode::Adaptive { limit_per_min } = self.mode {
            // the requests already in flight when the limit was hit answer 429 together: that
            // is one signal, so slow down at most once a second
            let recent = s.last_throttle.is_some_and(|at| now.duration_since(at) < ADJUST_EVERY);
            if !recent || s.interval.is_none() {
                let slower = match s.interval {
                    None => interval_for(limit_per_min),
                    Some(iv) => iv.mul_f64(1.5),
                };
                s.interval = Some(slower.min(SLOWEST));
                s.last_throttle = Some(now);
            }
        }
    }

    /// A request went through: an adaptive limiter speeds up a little, never past the
    /// documented limit while 429s are recent.
    pub fn succeeded(&self) {
        let RateMode::Adaptive { limit_per_min } = self.mode else { return };
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(iv) = s.interval {
            s.interval = Some(iv.mul_f64(0.97).max(interval_for(limit_per_min)));
        }
    }
}

/// Parses `--rate`: `N/min`, `N/s` or a bare `N` (per minute).
pub fn parse_rate(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("/min").or_else(|| t.strip_suffix("/m")) {
        (n, 1)
    } else if let Some(n) = t.strip_suffix("/s") {
        (n, 60)
    } else {
        (t, 1)
    };
    match num.trim().parse::<u32>() {
        Ok(n) if n > 0 => n.checked_mul(mult).ok_or_else(|| format!("{text:?}: too large")),
        _ => Err(format!("{text:?}: expected requests per minute, such as 600/min (or 10/s)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_paces_after_a_429_and_speeds_up_again() {
        let mut rl = RateLimiter::adaptive(true);
        rl.calm_after = Duration::from_millis(30);
        let (a, b) = (rl.reserve(), rl.reserve());
        assert!(b - a < Duration::from_millis(5), "not pacing before any 429");
        rl.throttled(None);
        assert_eq!(rl.state().per_min, Some(1000));
        let (a, b) = (rl.reserve(), rl.reserve());
        assert_eq!(b - a, Duration::from_millis(60), "one slot every 60 ms for everyone");
        rl.throttled(None);
        assert_eq!(rl.state().per_min, Some(1000), "429s of requests in flight together count once");
        rl.state.lock().unwrap().last_throttle = Some(Instant::now() - ADJUST_EVERY);
        rl.throttled(None);
        assert_eq!(rl.state().per_min, Some(667), "slower at a later 429");
        for _ in 0..200 {
            rl.succeeded();
        }
        assert_eq!(rl.state().per_min, Some(1000), "faster on success, not past the limit");
        std::thread::sleep(Duration::from_millis(40));
        rl.reserve();
        assert_eq!(rl.state(), RateState { per_min: None, throttled: 3 }, "no pacing once calm");
    }

    #[test]
    fn retry_after_pauses_everyone_and_fixed_rates_stay_fixed() {
        let rl = RateLimiter::new(RateMode::Fixed { per_min: 600 });
        let a = rl.reserve();
        assert_eq!(rl.reserve() - a, Duration::from_millis(100));
        let before = Instant::now();
        rl.throttled(Some(Duration::from_secs(5)));
        assert!(rl.reserve() >= before + Duration::from_secs(5));
        assert_eq!(rl.state().per_min, Some(600), "a fixed rate does not adapt");
        assert_eq!(parse_rate("600/min"), Ok(600));
        assert_eq!(parse_rate("10/s"), Ok(600));
        assert_eq!(parse_rate("50"), Ok(50));
        assert!(parse_rate("0/min").is_err() && parse_rate("fast").is_err());
    }
}
