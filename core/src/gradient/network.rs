//! The simulated network's cost model (stated, configurable): what one iteration's exchange costs the
//! slowest worker. A ring all-reduce of B bytes moves 2(N−1)/N·B bytes through each worker in 2(N−1)
//! steps, each paying the latency once; an all-gather of messages of different sizes has each worker
//! receive the other N−1 messages in N−1 steps. Dense gradients and PowerSGD's factors are all-reduced
//! (they sum elementwise); sparse and quantized messages are all-gathered (they do not).
//!
//! A [`Cost`] keeps bytes and latency steps apart, so a run measured once gives its time at any network.

use serde::{Deserialize, Serialize};

/// Bandwidth in Gbit/s and latency per message step in µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub bandwidth_gbps: f64,
    pub latency_us: f64,
}

/// Bytes through a worker and latency steps on its critical path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub bytes: f64,
    pub steps: f64,
}

impl Cost {
    pub fn seconds(&self, net: &Network) -> f64 {
        self.bytes * 8.0 / (net.bandwidth_gbps * 1e9) + self.steps * net.latency_us * 1e-6
    }

    pub fn add(&mut self, other: Cost) {
        self.bytes += other.bytes;
        self.steps += other.steps;
    }
}

/// Simulated seconds until the accuracy first reaches `target`, from points in step order of (accuracy,
/// compute seconds so far, wire cost so far); None if it never does.
pub fn time_to_accuracy(points: &[(f64, f64, Cost)], target: f64, net: &Network) -> Option<f64> {
    points.iter().find(|p| p.0 >= target).map(|(_, compute, wire)| compute + wire.seconds(net))
}

/// `rounds` ring all-reduces of `bytes` in all among `workers`.
pub fn all_reduce(workers: usize, bytes: usize, rounds: usize) -> Cost {
    if workers <= 1 {
        return Cost::default();
    }
    let n = workers as f64;
    Cost { bytes: 2.0 * (n - 1.0) / n * bytes as f64, steps: 2.0 * (n - 1.0) * rounds as f64 }
}

/// A ring all-gather of each worker's message (`sent[k]` bytes): the worst worker's cost — the one that
/// receives the most.
pub fn all_gather(sent: &[usize]) -> Cost {
    let n = sent.len();
    if n <= 1 {
        return Cost::default();
    }
    let all: usize = sent.iter().sum();
    let least = sent.iter().copied().min().unwrap_or(0);
    Cost { bytes: (all - least) as f64, steps: (n - 1) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_costs() {
        let net = Network { bandwidth_gbps: 8.0, latency_us: 10.0 };
        // 4 workers, 1 GB all-reduced: 1.5 GB through each worker at 1 GB/s, 6 steps of 10 µs.
        let c = all_reduce(4, 1_000_000_000, 1);
        assert!((c.seconds(&net) - (1.5 + 60e-6)).abs() < 1e-9);
        // All-gather: the worker with the smallest message receives the most.
        let g = all_gather(&[100, 200, 300]);
        assert_eq!(g, Cost { bytes: 500.0, steps: 2.0 });
        assert_eq!(all_reduce(1, 1000, 2), Cost::default());
        assert_eq!(all_gather(&[1000]), Cost::default());
        let pts = [(0.5, 1.0, Cost { bytes: 1e9, steps: 0.0 }), (0.9, 2.0, Cost { bytes: 2e9, steps: 10.0 })];
        assert_eq!(time_to_accuracy(&pts, 0.8, &net), Some(2.0 + 2.0 + 100e-6));
        assert_eq!(time_to_accuracy(&pts, 0.95, &net), None);
    }
}
