//! Tick positions and labels: round steps on linear axes (integers printed as integers, never
//! `-0`), one label per decade on log axes (`10⁻³`), with 2 and 5 added when the axis spans
//! little more than a decade. The report's script follows the same rules.

/// About `target` round tick values (steps of 1, 2 or 5 × 10ᵏ) inside `[low, high]`, and the
/// step.
pub fn linear(low: f64, high: f64, target: usize) -> (Vec<f64>, f64) {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return (vec![low], 1.0);
    }
    let raw = (high - low) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step - 1e-9).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, step)
}

/// `value` printed with as many decimals as `step` needs: `5` not `5.0`, `20000` not
/// `20000.0`, `0.0` not `-0.0`.
pub fn label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil().max(0.0) as usize
    };
    let text = format!("{value:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// Ticks of a log axis over `[low, high]` given as log₁₀ values: `(log₁₀ position, label)`.
/// One per decade (every second or more when there are many), plus 2 and 5 × 10ᵏ when fewer
/// than two decades are in range.
pub fn log(low: f64, high: f64) -> Vec<(f64, String)> {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return Vec::new();
    }
    let (first, last) = (low.ceil() as i32, high.floor() as i32);
    let decades = (last - first + 1).max(0) as usize;
    if decades < 2 {
        return (low.floor() as i32..=last)
            .flat_map(|k| [1.0, 2.0, 5.0].map(move |m| (k, m)))
            .map(|(k, m)| ((m * 10f64.powi(k)).log10(), k, m))
            .filter(|&(p, _, _)| p >= low - 1e-9 && p <= high + 1e-9)
            .map(|(p, k, m)| (p, mantissa_label(m, k)))
            .collect();
    }
    let every = decades.div_ceil(8).max(1) as i32;
    (first..=last)
        .filter(|k| k.rem_euclid(every) == 0)
        .map(|k| (f64::from(k), power(k)))
        .collect()
}

/// `10ᵏ` with a superscript exponent (`10⁻³`, `10⁰`).
pub fn power(k: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut text = String::from("10");
    if k < 0 {
        text.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        text.push(DIGITS[usize::from(d - b'0')]);
    }
    text
}

/// `m × 10ᵏ` in plain decimals when short (`0.2`, `50`), else `2×10⁻⁵`.
fn mantissa_label(m: f64, k: i32) -> String {
    if (-3..=4).contains(&k) {
        let value = m * 10f64.powi(k);
        label(value, 10f64.powi(k))
    } else if m == 1.0 {
        power(k)
    } else {
        format!("{m}×{}", power(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_labelled_without_spurious_decimals() {
        let (ticks, step) = linear(1.0, 30.0, 6);
        assert_eq!(step, 5.0);
        assert_eq!(ticks, [5.0, 10.0, 15.0, 20.0, 25.0, 30.0]);
        let labels: Vec<String> = ticks.iter().map(|&t| label(t, step)).collect();
        assert_eq!(labels, ["5", "10", "15", "20", "25", "30"]);
        let (ticks, step) = linear(-0.05, 0.3, 6);
        assert_eq!(step, 0.1);
        let labels: Vec<String> = ticks.iter().map(|&t| label(t, step)).collect();
        assert_eq!(labels, ["0.0", "0.1", "0.2", "0.3"]);
        assert_eq!(label(0.25, 0.05), "0.25");
        assert_eq!(label(20000.0, 5000.0), "20000");
        assert_eq!(label(-0.0001, 0.1), "0.0");
        assert_eq!(label(-0.2, 0.1), "-0.2");
    }

    #[test]
    fn log_ticks_label_each_decade_once() {
        let ticks = log(-7.3, -0.6);
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            ["10⁻⁷", "10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹"]
        );
        assert_eq!(log(-12.0, 3.0).len(), 8);
        let short: Vec<String> = log(-1.5, -0.1).into_iter().map(|(_, l)| l).collect();
        assert_eq!(short, ["0.05", "0.1", "0.2", "0.5"]);
    }
}
