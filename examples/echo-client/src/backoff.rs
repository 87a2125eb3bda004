//! Exponential backoff between reconnect attempts.

use std::time::Duration;

/// Exponential backoff: the delay after failed attempt `n` (counting from 0)
/// is `initial * multiplier^n`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failed attempt.
    pub initial: Duration,
    /// Upper bound of every delay.
    pub max: Duration,
    /// Growth factor per attempt; 0 and 1 both mean a constant delay.
    pub multiplier: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            multiplier: 2,
        }
    }
}

impl Backoff {
    /// The delay to wait after failed attempt `attempt` (0-based).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.multiplier
            .max(1)
            .checked_pow(attempt)
            .and_then(|factor| self.initial.checked_mul(factor))
            .map_or(self.max, |delay| delay.min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn backoff(initial: u64, max: u64, multiplier: u32) -> Backoff {
        Backoff {
            initial: ms(initial),
            max: ms(max),
            multiplier,
        }
    }

    #[test]
    fn first_delay_is_initial() {
        assert_eq!(backoff(50, 2000, 2).delay(0), ms(50));
    }

    #[test]
    fn delay_grows_by_multiplier() {
        let b = backoff(10, 10_000, 3);
        let delays: Vec<_> = (0..5).map(|n| b.delay(n)).collect();
        assert_eq!(delays, [ms(10), ms(30), ms(90), ms(270), ms(810)]);
    }

    #[test]
    fn delay_is_capped_at_max() {
        let b = backoff(50, 300, 2);
        assert_eq!(b.delay(2), ms(200));
        assert_eq!(b.delay(3), ms(300));
        assert_eq!(b.delay(10), ms(300));
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let b = Backoff::default();
        assert_eq!(b.delay(31), b.max);
        assert_eq!(b.delay(u32::MAX), b.max);
        let wide = backoff(1, u64::MAX / 2, u32::MAX);
        assert_eq!(wide.delay(5), wide.max);
    }

    #[test]
    fn multiplier_zero_or_one_is_constant() {
        for multiplier in [0, 1] {
            let b = backoff(40, 1000, multiplier);
            assert!(
                (0..20).all(|n| b.delay(n) == ms(40)),
                "multiplier {multiplier}"
            );
        }
    }

    #[test]
    fn initial_above_max_is_capped() {
        assert_eq!(backoff(500, 100, 2).delay(0), ms(100));
    }
}
