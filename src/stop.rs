//! Waiting that watches the stop flag (Ctrl-C): every pause of a loop goes through here, so
//! none outlives a stop request by more than one short step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest a [`sleep_unless_stopped`] goes without looking at the flag.
pub const STEP: Duration = Duration::from_millis(50);

/// Sleeps `d` in steps of at most [`STEP`]; true when the whole time passed, false as soon as
/// `stop` is set (at once when it is set already, even for a zero `d`).
pub fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(STEP));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_the_whole_time_when_not_stopped() {
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        assert!(sleep_unless_stopped(Duration::from_millis(120), &stop));
        assert!(start.elapsed() >= Duration::from_millis(120));
    }

    #[test]
    fn returns_false_at_once_when_stopped_already() {
        let stop = AtomicBool::new(true);
        assert!(!sleep_unless_stopped(Duration::ZERO, &stop));
        assert!(!sleep_unless_stopped(Duration::from_secs(3600), &stop));
    }

    #[test]
    fn wakes_within_a_step_of_the_stop_request() {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let setter = {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                stop.store(true, Ordering::Relaxed);
            })
        };
        let start = Instant::now();
        assert!(!sleep_unless_stopped(Duration::from_secs(10), &stop));
        assert!(start.elapsed() < Duration::from_secs(5), "the sleep did not watch the flag");
        setter.join().unwrap();
    }
}
