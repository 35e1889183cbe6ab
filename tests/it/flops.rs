//! The FLOP tally behind the benchmark's ceiling: a step's products counted as they run.

use crate::plasticity;

/// Measured FLOPs per sample of `plasticity bench` (its own process: the tally is global).
fn measured(extra: &[&str]) -> f64 {
    let mut args = vec![
        "bench",
        "--json",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--repeats",
        "1",
    ];
    for item in extra {
        args.extend(["--set", item]);
    }
    let (code, stdout, stderr) = plasticity(&args);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    report["measured_flops_per_sample"].as_f64().unwrap()
}

#[test]
fn a_steps_products_are_counted_as_the_rule_runs_them() {
    let net = [
        "data.dataset=digits",
        "model.hidden=[32]",
        "train.batch_size=16",
    ];
    let with = |rule: &str| {
        let mut extra = net.to_vec();
        extra.push(rule);
        measured(&extra)
    };
    // Per sample, one product `[in] · [in, out]` is 2·in·out FLOPs; 64-32-10.
    let (first, second) = (2.0 * 64.0 * 32.0, 2.0 * 32.0 * 10.0);
    // Backprop: forward and weight gradient of both blocks, the input gradient of the second
    // (block 0's input gradient is never needed).
    let backprop = with("train.rule=backprop");
    assert_eq!(backprop, 2.0 * (first + second) + second);
    // DFA: the same, its error projected to block 0 through B (10 → 32) instead of through
    // W₁ᵀ: the same shape, the same count.
    assert_eq!(with("train.rule=dfa"), backprop);
    // Local losses: each hidden block's fixed projection to the classes (32 → 10) and its
    // gradient back (10 → 32), no input gradient between blocks.
    let local = with("train.rule=local_loss");
    assert_eq!(local, 2.0 * (first + second) + 2.0 * second);
}
