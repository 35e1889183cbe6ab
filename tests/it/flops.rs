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

#[test]
fn a_convolutions_passes_count_as_the_products_they_amount_to() {
    let with = |arch: &str, rule: &str| {
        measured(&[
            "data.dataset=digits",
            &format!("model.arch={arch}"),
            "model.activation=relu",
            "train.batch_size=16",
            rule,
        ])
    };
    // Digits are 1×8×8. Each pass of a conv of 4 3×3 kernels is one `[positions, 9] · [9, 4]`
    // product per sample: 64 positions with padding 1 (the direct stride-1 path), 16 with
    // stride 2 (on unfolded patches, whose inner product must not be counted again).
    for (arch, positions) in [("4c3p1-mp2", 64.0), ("4c3p1s2-mp2", 16.0)] {
        let conv = 2.0 * positions * 9.0 * 4.0;
        // Pooled to 4 × (positions / 4) features, then the linear readout to 10 classes.
        let readout = 2.0 * (positions / 4.0 * 4.0) * 10.0;
        // Backprop: the conv's forward and weight gradient (no input gradient for block 0),
        // the readout's forward, weight and input gradients.
        let backprop = with(arch, "train.rule=backprop");
        assert_eq!(backprop, 2.0 * conv + 3.0 * readout, "{arch}");
        // DFA projects the error into the conv block's pooled output (10 → 4 × positions / 4)
        // instead of the readout's input gradient.
        let dfa = with(arch, "train.rule=dfa");
        assert_eq!(
            dfa,
            2.0 * conv + 2.0 * readout + 2.0 * 10.0 * positions,
            "{arch}"
        );
    }
}
