//! Latency samples and their summary.
//!
//! Every sample is one update's latency in microseconds. Percentiles use the
//! nearest-rank definition: the p-th percentile of `n` sorted samples is the sample at
//! rank `ceil(p/100 · n)` (1-based), so p99 of 1,000 samples is the 990th smallest and
//! no value is interpolated.

use std::time::Duration;

use serde::Serialize;

/// A growing set of latency samples (microseconds).
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u32>,
}

impl Samples {
    /// Adds one sample; durations above `u32::MAX` µs (71 minutes) are clamped.
    pub fn push(&mut self, d: Duration) {
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        self.micros.push(us);
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.micros.extend_from_slice(&other.micros);
    }

    /// Removes every sample.
    pub fn clear(&mut self) {
        self.micros.clear();
    }

    /// Sorts the samples and summarizes them.
    pub fn summary(&mut self) -> Summary {
        self.micros.sort_unstable();
        Summary::of_sorted(&self.micros)
    }
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of ascending `sorted` samples;
/// 0 for no samples.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

impl Summary {
    /// Summarizes ascending samples (microseconds).
    pub fn of_sorted(sorted: &[u32]) -> Self {
        let ms = |us: u32| f64::from(us) / 1000.0;
        let count = sorted.len();
        let mean_ms = if count == 0 {
            0.0
        } else {
            sorted.iter().map(|&u| f64::from(u)).sum::<f64>() / count as f64 / 1000.0
        };
        Self {
            count,
            p50_ms: ms(percentile(sorted, 50.0)),
            p95_ms: ms(percentile(sorted, 95.0)),
            p99_ms: ms(percentile(sorted, 99.0)),
            max_ms: ms(sorted.last().copied().unwrap_or(0)),
            mean_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 95.0), 95);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.1), 1);
    }

    #[test]
    fn percentiles_of_few_samples_pick_real_samples() {
        assert_eq!(percentile(&[], 99.0), 0);
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[1, 1000], 50.0), 1);
        assert_eq!(percentile(&[1, 1000], 99.0), 1000);
        // One outlier in 1,000 does not reach p99; eleven do.
        let mut v = vec![100u32; 999];
        v.push(90_000);
        assert_eq!(percentile(&v, 99.0), 100);
        let mut v = vec![100u32; 989];
        v.extend([90_000; 11]);
        v.sort_unstable();
        assert_eq!(percentile(&v, 99.0), 90_000);
    }

    #[test]
    fn summary_is_in_milliseconds_and_sorts_first() {
        let mut s = Samples::default();
        for us in [3000u64, 1000, 2000, 4000] {
            s.push(Duration::from_micros(us));
        }
        let sum = s.summary();
        assert_eq!(sum.count, 4);
        assert!((sum.p50_ms - 2.0).abs() < 1e-9);
        assert!((sum.p99_ms - 4.0).abs() < 1e-9);
        assert!((sum.max_ms - 4.0).abs() < 1e-9);
        assert!((sum.mean_ms - 2.5).abs() < 1e-9);
    }
}
