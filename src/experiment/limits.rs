//! The numeric settings' ranges, checked once when a config is read: no NaN or infinity,
//! nothing negative where it means nothing, no magnitude a run could not hold (a thread count
//! beyond any machine, an epoch count whose iterations overflow a counter).

use crate::error::{Error, Result};
use crate::experiment::ExperimentConfig;
use crate::optim::ScheduleKind;

/// At most this many epochs (a run of more is a typo: it would never finish).
pub const MAX_EPOCHS: usize = 1_000_000;
/// At most this many threads.
pub const MAX_THREADS: usize = 4096;

/// The range a number must lie in.
#[derive(Clone, Copy)]
enum Range {
    /// `> 0`.
    Positive,
    /// `≥ 0`.
    NonNegative,
    /// `[0, 1)`.
    Fraction,
    /// `(0, 1]`.
    Factor,
    /// Any finite number.
    Finite,
}

impl Range {
    fn holds(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Range::Positive => v > 0.0,
                Range::NonNegative => v >= 0.0,
                Range::Fraction => (0.0..1.0).contains(&v),
                Range::Factor => v > 0.0 && v <= 1.0,
                Range::Finite => true,
            }
    }

    fn describe(self) -> &'static str {
        match self {
            Range::Positive => "a positive number",
            Range::NonNegative => "a non-negative number",
            Range::Fraction => "a number in [0, 1)",
            Range::Factor => "a number in (0, 1]",
            Range::Finite => "a finite number",
        }
    }
}

fn check(key: &str, value: f64, range: Range) -> Result<()> {
    if range.holds(value) {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("{value} is not {}", range.describe()),
        ))
    }
}

fn at_most(key: &str, value: usize, max: usize) -> Result<()> {
    if value <= max {
        Ok(())
    } else {
        Err(Error::config(
            key,
            format!("{value} is more than the {max} a run can use"),
        ))
    }
}

/// Checks every numeric setting of `config` against its range.
pub fn check_numbers(config: &ExperimentConfig) -> Result<()> {
    let (d, m, t, tp) = (
        &config.data,
        &config.model,
        &config.train,
        &config.target_prop,
    );
    d.check()?;
    check("model.temperature", m.temperature, Range::Positive)?;
    if let Some(scale) = m.init_scale {
        check("model.init_scale", scale, Range::Positive)?;
    }
    if let Some(scale) = t.feedback_scale {
        check("train.feedback_scale", scale, Range::Positive)?;
    }
    check("train.ff_threshold", t.ff_threshold, Range::Finite)?;
    check("train.ff_sharpness", t.ff_sharpness, Range::Positive)?;
    at_most("train.epochs", t.epochs, MAX_EPOCHS)?;
    at_most("train.threads", t.threads, MAX_THREADS)?;
    check_optimizer("train", t.lr, t.momentum, t.weight_decay, t.gamma, t.min_lr)?;
    check("target_prop.x_lr", tp.x_lr, Range::NonNegative)?;
    check("target_prop.rec_noise", tp.rec_noise, Range::NonNegative)?;
    check("target_prop.rec_weight", tp.rec_weight, Range::NonNegative)?;
    check_optimizer(
        "target_prop",
        tp.lr,
        tp.momentum,
        tp.weight_decay,
        tp.gamma,
        tp.min_lr,
    )?;
    if tp.schedule == ScheduleKind::Step && tp.step_every == 0 {
        return Err(Error::config(
            "target_prop.step_every",
            "must be at least 1",
        ));
    }
    Ok(())
}

/// An optimizer's numbers under `section`: a positive rate, momentum in `[0, 1)`, decay
/// `≥ 0`, a schedule factor in `(0, 1]` and a floor below the rate.
fn check_optimizer(
    section: &str,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    gamma: f64,
    min_lr: f64,
) -> Result<()> {
    check(&format!("{section}.lr"), lr, Range::Positive)?;
    check(&format!("{section}.momentum"), momentum, Range::Fraction)?;
    check(
        &format!("{section}.weight_decay"),
        weight_decay,
        Range::NonNegative,
    )?;
    check(&format!("{section}.gamma"), gamma, Range::Factor)?;
    check(&format!("{section}.min_lr"), min_lr, Range::NonNegative)?;
    if min_lr > lr {
        return Err(Error::config(
            format!("{section}.min_lr"),
            format!("{min_lr} is above the learning rate {lr}"),
        ));
    }
    Ok(())
}

/// Bytes of memory the system can still give, when it says (Linux's `MemAvailable`).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses, naming `key`, a run whose estimate of `bytes` (`None`: it overflows) exceeds the
/// `available` memory (when known); `what` says what needs it.
pub fn check_fits(key: &str, what: &str, bytes: Option<u64>, available: Option<u64>) -> Result<()> {
    match (bytes, available) {
        (None, _) => Err(Error::config(
            key,
            format!("{what} would need more bytes than a 64-bit count holds"),
        )),
        (Some(needed), Some(free)) if needed > free => Err(Error::config(
            key,
            format!(
                "{what} would need about {}, the machine has {} free",
                human(needed),
                human(free)
            ),
        )),
        _ => Ok(()),
    }
}

/// A byte count for people: `1.5 GiB`.
fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

/// Floats held per weight while training: the weight, its gradient, two optimizer moments
/// and a rule's matrix of the same shape (feedback, inverse or decoder) with its own.
const FLOATS_PER_WEIGHT: u64 = 8;
/// Floats held per unit and sample in a step: the caches of every layer of a block and the
/// gradients flowing back through them.
const FLOATS_PER_ACTIVATION: u64 = 8;

/// Refuses, naming the width key (`model.layers` or `model.hidden`) or the batch key, a net of
/// `specs` whose weights, or whose step (`train.batch_size`, evaluation's
/// `train.eval_batch_size`, alignment's `train.align_batch`, each at most the `samples` of the
/// largest split), would need more memory than the machine has free.
pub fn check_model_fits(
    config: &ExperimentConfig,
    specs: &[crate::net::BlockSpec],
    samples: usize,
) -> Result<()> {
    let t = &config.train;
    let width_key = if config.model.layers.is_some() {
        "model.layers"
    } else if config.model.arch.is_some() {
        "model.arch"
    } else {
        "model.hidden"
    };
    // A convolution's weights are its kernels, `[out, in·k·k]`, not a map between volumes.
    let weights = specs.iter().try_fold(0u64, |sum, s| {
        let [out, fan_in] = s.weight_dims().map(|d| d as u64);
        let w = fan_in.checked_add(1)?.checked_mul(out)?;
        sum.checked_add(w)
    });
    let weight_bytes = weights.and_then(|w| w.checked_mul(FLOATS_PER_WEIGHT * 4));
    let free = available_memory();
    check_fits(width_key, "the network's weights", weight_bytes, free)?;
    let align = if t.align_every > 0 { t.align_batch } else { 0 };
    let (rows_key, rows) = [
        ("train.batch_size", t.batch_size),
        ("train.eval_batch_size", t.eval_batch_size),
        ("train.align_batch", align),
    ]
    .into_iter()
    .map(|(key, rows)| (key, rows.min(samples)))
    .max_by_key(|(_, rows)| *rows)
    .expect("three candidates");
    // A conv block also keeps its volume before pooling.
    let units = specs.iter().try_fold(0u64, |sum, s| {
        let unpooled = s
            .conv
            .map_or(0, |c| crate::net::shape::features(c.conv_output()));
        sum.checked_add(s.inputs as u64)?
            .checked_add(s.outputs as u64)?
            .checked_add(unpooled as u64)
    });
    let step_bytes = units
        .and_then(|u| u.checked_mul(rows as u64))
        .and_then(|u| u.checked_mul(FLOATS_PER_ACTIVATION * 4))
        .and_then(|b| b.checked_add(weight_bytes?));
    check_fits(
        rows_key,
        &format!("a step of {rows} samples"),
        step_bytes,
        free,
    )
}
