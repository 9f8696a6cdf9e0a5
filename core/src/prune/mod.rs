//! Pruning at every granularity (ALGORITHMS.md §5, §11.3): fine, vector, kernel, filter, channel, blocks and
//! N:M, by group saliency (L1 or L2), to a per-layer target or one global threshold across layers; the AGP
//! schedule; a checker that a mask has its pattern; and storage costs under common sparse formats.

pub mod assess;
mod pattern;
pub mod storage;

pub use pattern::{Pattern, group_ids};

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// How a group's importance is measured. Both are size-normalised (mean |w|, root-mean-square), so the
/// smaller edge blocks of a block pattern are not pruned first merely for being smaller; for equal-size
/// groups this ranks exactly as the L1 and L2 norms do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Saliency {
    #[default]
    L1,
    L2,
}

impl FromStr for Saliency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "l1" => Ok(Self::L1),
            "l2" => Ok(Self::L2),
            _ => Err(Error::param(format!("unknown saliency `{s}` (expected l1 or l2)"))),
        }
    }
}

impl fmt::Display for Saliency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::L1 => "l1",
            Self::L2 => "l2",
        })
    }
}

/// What to prune.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PruneConfig {
    pub pattern: Pattern,
    /// Target fraction of pruned weights in [0, 1); ignored (fixed by the pattern) for N:M.
    pub sparsity: f64,
    pub saliency: Saliency,
}

impl PruneConfig {
    pub fn validate(&self) -> Result<()> {
        self.pattern.validate()?;
        if !(0.0..1.0).contains(&self.sparsity) {
            return Err(Error::param(format!("sparsity {} is outside [0, 1)", self.sparsity)));
        }
        Ok(())
    }
}

/// Pruning in the API's words (`{"pattern": "kernel", "sparsity": 0.5, "saliency": "l1"}`), as requests
/// and job specifications carry it; [`PruneSpec::resolve`] checks it and gives the [`PruneConfig`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PruneSpec {
    /// `fine`, `vector[:V]`, `kernel`, `filter`, `channel`, `block:RxC` or `N:M`.
    pub pattern: String,
    /// Target fraction of pruned weights in [0, 1) (fixed by the pattern for N:M).
    #[serde(default)]
    pub sparsity: f64,
    /// `l1` (default) or `l2`: how groups are ranked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saliency: Option<String>,
}

impl PruneSpec {
    pub fn resolve(&self) -> Result<PruneConfig> {
        let pattern: Pattern = self.pattern.parse()?;
        let cfg = PruneConfig {
            pattern,
            sparsity: pattern.fixed_sparsity().unwrap_or(self.sparsity),
            saliency: self.saliency.as_deref().unwrap_or("l1").parse()?,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// A pruned tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct PruneOutput {
    /// true where the weight is kept.
    pub mask: Vec<bool>,
    /// The weights with pruned ones set to zero.
    pub pruned: Vec<f32>,
    /// Fraction of zeros in `pruned` (weights that were already zero count too).
    pub sparsity: f64,
    pub groups: usize,
    pub groups_pruned: usize,
}

fn saliencies(x: &[f32], ids: &[u32], groups: usize, s: Saliency) -> (Vec<f64>, Vec<usize>) {
    let mut acc = vec![0f64; groups];
    let mut size = vec![0usize; groups];
    for (&v, &g) in x.iter().zip(ids) {
        let g = g as usize;
        acc[g] += match s {
            Saliency::L1 => v.abs() as f64,
            Saliency::L2 => (v as f64) * (v as f64),
        };
        size[g] += 1;
    }
    for (a, &n) in acc.iter_mut().zip(&size) {
        *a = match s {
            Saliency::L1 => *a / n.max(1) as f64,
            Saliency::L2 => (*a / n.max(1) as f64).sqrt(),
        };
    }
    (acc, size)
}

/// Picks groups (ascending saliency, ties by index) until the pruned element count is nearest `target`.
fn choose_groups(order: &[(f64, usize, usize)], target: f64, pruned: &mut [bool]) -> usize {
    let mut count = 0f64;
    let mut n = 0;
    for &(_, g, size) in order {
        // Take the next group if that brings the count closer to the target (ties: take it).
        if count + size as f64 / 2.0 > target {
            break;
        }
        pruned[g] = true;
        count += size as f64;
        n += 1;
    }
    n
}

fn finish(x: &[f32], ids: &[u32], groups: usize, pruned_groups: &[bool]) -> PruneOutput {
    let mask: Vec<bool> = ids.iter().map(|&g| !pruned_groups[g as usize]).collect();
    let pruned: Vec<f32> = x.iter().zip(&mask).map(|(&v, &m)| if m { v } else { 0.0 }).collect();
    let zeros = pruned.iter().filter(|&&v| v == 0.0).count();
    PruneOutput {
        sparsity: zeros as f64 / x.len() as f64,
        groups,
        groups_pruned: pruned_groups.iter().filter(|&&p| p).count(),
        mask,
        pruned,
    }
}

fn check_input(x: &[f32], shape: &[usize]) -> Result<()> {
    crate::quant::check_tensor(x, shape)
}

/// N:M: in every group of M along the reduction axis keep the N largest |w| (ties: the earlier one).
fn prune_nm(x: &[f32], shape: &[usize], n: usize, m: usize) -> Result<PruneOutput> {
    let (ids, groups) = group_ids(shape, Pattern::NM { n, m })?;
    let mut mask = vec![false; x.len()];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
    for (i, &g) in ids.iter().enumerate() {
        members[g as usize].push(i);
    }
    for mem in &mut members {
        mem.sort_by(|&a, &b| x[b].abs().total_cmp(&x[a].abs()).then(a.cmp(&b)));
        for &i in mem.iter().take(n) {
            mask[i] = true;
        }
    }
    let pruned: Vec<f32> = x.iter().zip(&mask).map(|(&v, &k)| if k { v } else { 0.0 }).collect();
    let zeros = pruned.iter().filter(|&&v| v == 0.0).count();
    Ok(PruneOutput { sparsity: zeros as f64 / x.len() as f64, groups, groups_pruned: 0, mask, pruned })
}

/// Prunes one tensor to its own target sparsity.
pub fn prune(x: &[f32], shape: &[usize], cfg: &PruneConfig) -> Result<PruneOutput> {
    cfg.validate()?;
    check_input(x, shape)?;
    if let Pattern::NM { n, m } = cfg.pattern {
        return prune_nm(x, shape, n, m);
    }
    let (ids, groups) = group_ids(shape, cfg.pattern)?;
    let (sal, size) = saliencies(x, &ids, groups, cfg.saliency);
    let mut order: Vec<(f64, usize, usize)> = (0..groups).map(|g| (sal[g], g, size[g])).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut pruned = vec![false; groups];
    choose_groups(&order, cfg.sparsity * x.len() as f64, &mut pruned);
    Ok(finish(x, &ids, groups, &pruned))
}

/// Prunes several tensors with one saliency threshold across all of them, so that `cfg.sparsity` of all
/// their weights together is pruned (layers with small weights give up more).
/// The pruned values of `x` for a simulator: `pattern` (its text form) at `sparsity` with L1 saliency; with
/// sparsity 0 (and no N:M pattern, which fixes its own) the values unchanged. The CLI's `--weights-sparsity`
/// and the page's hardware curves prune through here, so their numbers agree.
pub fn prune_for_sim(x: &[f32], shape: &[usize], pattern: &str, sparsity: f64) -> Result<Vec<f32>> {
    let pattern: Pattern = pattern.parse()?;
    if sparsity == 0.0 && pattern.fixed_sparsity().is_none() {
        return Ok(x.to_vec());
    }
    Ok(prune(x, shape, &PruneConfig { pattern, sparsity, saliency: Saliency::L1 })?.pruned)
}

pub fn prune_global(tensors: &[(&[f32], &[usize])], cfg: &PruneConfig) -> Result<Vec<PruneOutput>> {
    cfg.validate()?;
    if matches!(cfg.pattern, Pattern::NM { .. }) {
        return tensors.iter().map(|(x, s)| prune(x, s, cfg)).collect();
    }
    let mut per = Vec::with_capacity(tensors.len());
    let mut order = Vec::new();
    let mut offset = 0;
    for (t, (x, shape)) in tensors.iter().enumerate() {
        check_input(x, shape).map_err(|e| e.context(format!("tensor {t}")))?;
        let (ids, groups) = group_ids(shape, cfg.pattern)?;
        let (sal, size) = saliencies(x, &ids, groups, cfg.saliency);
        order.extend((0..groups).map(|g| (sal[g], offset + g, size[g])));
        per.push((ids, groups, offset));
        offset += groups;
    }
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let total: usize = tensors.iter().map(|(x, _)| x.len()).sum();
    let mut pruned = vec![false; offset];
    choose_groups(&order, cfg.sparsity * total as f64, &mut pruned);
    Ok(tensors
        .iter()
        .zip(per)
        .map(|((x, _), (ids, groups, off))| finish(x, &ids, groups, &pruned[off..off + groups]))
        .collect())
}

/// Checks that a mask has the pattern: every group wholly kept or wholly pruned; N:M groups keep ≤ N.
pub fn check_pattern(mask: &[bool], shape: &[usize], pattern: Pattern) -> Result<()> {
    let (ids, groups) = group_ids(shape, pattern)?;
    if ids.len() != mask.len() {
        return Err(Error::tensor(format!("mask has {} entries, shape {shape:?} has {}", mask.len(), ids.len())));
    }
    let mut kept = vec![0usize; groups];
    let mut size = vec![0usize; groups];
    for (&g, &m) in ids.iter().zip(mask) {
        kept[g as usize] += m as usize;
        size[g as usize] += 1;
    }
    for g in 0..groups {
        let ok = match pattern {
            Pattern::NM { n, .. } => kept[g] <= n,
            _ => kept[g] == 0 || kept[g] == size[g],
        };
        if !ok {
            return Err(Error::tensor(format!(
                "group {g} keeps {} of {} weights, which pattern {pattern} does not allow",
                kept[g], size[g]
            )));
        }
    }
    Ok(())
}

/// Automated gradual pruning (Zhu & Gupta): s_t = s_f + (s_i − s_f)(1 − t/n)³ for step t of n (clamped).
pub fn agp_sparsity(t: usize, s_initial: f64, s_final: f64, n: usize) -> f64 {
    if n == 0 {
        return s_final;
    }
    let frac = (t.min(n) as f64) / n as f64;
    s_final + (s_initial - s_final) * (1.0 - frac).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sampler;

    fn cfg(pattern: &str, sparsity: f64) -> PruneConfig {
        PruneConfig { pattern: pattern.parse().unwrap(), sparsity, saliency: Saliency::L1 }
    }

    #[test]
    fn kernel_pruning_at_half_density_zeroes_whole_kernels() {
        // ALGORITHMS.md §5.5: 64×64×3×3 at 50 %: whole 3×3 kernels, round(0.5·64·64) of them.
        let x = Sampler::new(1).gaussian_vec(64 * 64 * 9);
        let shape = [64, 64, 3, 3];
        let out = prune(&x, &shape, &cfg("kernel", 0.5)).unwrap();
        assert_eq!(out.groups, 4096);
        assert_eq!(out.groups_pruned, 2048);
        check_pattern(&out.mask, &shape, Pattern::Kernel).unwrap();
        assert_eq!(out.sparsity, 0.5);
        for p in ["fine", "vector", "vector:col", "filter", "channel", "block:4x8"] {
            let o = prune(&x, &shape, &cfg(p, 0.5)).unwrap();
            check_pattern(&o.mask, &shape, p.parse().unwrap()).unwrap();
            assert!((o.sparsity - 0.5).abs() < 0.02, "{p}: {}", o.sparsity);
        }
        let f = prune(&x, &shape, &cfg("filter", 0.5)).unwrap();
        assert_eq!((f.groups, f.groups_pruned), (64, 32));
        let v = prune(&x, &shape, &cfg("vector", 0.5)).unwrap();
        assert_eq!((v.groups, v.groups_pruned), (64 * 64 * 3, 64 * 64 * 3 / 2));
    }

    #[test]
    fn the_smallest_groups_go_first() {
        // Four 1×1 "kernels" of a 2×2×1×1 conv; the two smallest by |w| are pruned.
        let out = prune(&[0.1, -5.0, 0.3, -0.2], &[2, 2, 1, 1], &cfg("kernel", 0.5)).unwrap();
        assert_eq!(out.pruned, vec![0.0, -5.0, 0.3, 0.0]);
    }

    #[test]
    fn two_four_keeps_the_two_largest_of_every_four() {
        let x = [1.0, -4.0, 3.0, 0.5, 0.0, 0.0, 0.0, 2.0];
        let out = prune(&x, &[1, 8], &cfg("nm:2:4", 0.0)).unwrap();
        assert_eq!(out.pruned, vec![0.0, -4.0, 3.0, 0.0, 0.0, 0.0, 0.0, 2.0]);
        check_pattern(&out.mask, &[1, 8], Pattern::NM { n: 2, m: 4 }).unwrap();
        assert!(check_pattern(&[true; 8], &[1, 8], Pattern::NM { n: 2, m: 4 }).is_err());
    }

    #[test]
    fn global_pruning_hits_the_overall_target() {
        let mut s = Sampler::new(2);
        let a: Vec<f32> = (0..1000).map(|_| s.gaussian() as f32 * 0.1).collect();
        let b: Vec<f32> = (0..1000).map(|_| s.gaussian() as f32).collect();
        let out = prune_global(&[(&a, &[10, 100]), (&b, &[10, 100])], &cfg("fine", 0.5)).unwrap();
        let total = (out[0].sparsity + out[1].sparsity) / 2.0;
        assert!((total - 0.5).abs() < 1e-3, "{total}");
        assert!(out[0].sparsity > 0.8 && out[1].sparsity < 0.2, "the small-weight layer gives up more");
    }

    #[test]
    fn agp_follows_the_cubic() {
        assert_eq!(agp_sparsity(0, 0.0, 0.8, 10), 0.0);
        assert_eq!(agp_sparsity(10, 0.0, 0.8, 10), 0.8);
        assert!((agp_sparsity(5, 0.0, 0.8, 10) - 0.7).abs() < 1e-12);
        assert_eq!(agp_sparsity(20, 0.1, 0.8, 10), 0.8);
    }

    #[test]
    fn bad_patterns_and_targets_are_named() {
        assert!("nm:4:4".parse::<Pattern>().unwrap_err().message.contains("N < M"));
        assert!("block:0x3".parse::<Pattern>().is_err());
        assert!("diagonal".parse::<Pattern>().is_err());
        let x = [1.0f32; 8];
        assert!(prune(&x, &[8], &cfg("kernel", 0.5)).unwrap_err().message.contains("rank 4"));
        assert!(prune(&x, &[2, 4], &cfg("fine", 1.0)).unwrap_err().message.contains("outside [0, 1)"));
        assert!(prune(&x, &[2, 4], &cfg("fine", -0.1)).is_err());
    }
}
