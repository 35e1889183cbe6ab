//! The playground's sessions (what `plasticity serve` steps): reproducible from the spec,
//! compare mode from the same weights on the same batches, every rule, bad specs refused.

use plasticity::Error;
use plasticity::playground::{PlaygroundSpec, Session};

fn spec(rule: &str) -> PlaygroundSpec {
    PlaygroundSpec {
        rule: rule.into(),
        ..PlaygroundSpec::default()
    }
}

fn decoded(probabilities: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(probabilities)
        .expect("frames carry base64")
}

#[test]
fn dfa_learns_signed_xor_in_300_steps() {
    let mut session = Session::new(spec("dfa")).unwrap();
    let before = session.frame().lanes[0].test_accuracy.unwrap();
    session.step(300);
    let frame = session.frame();
    let lane = &frame.lanes[0];
    let after = lane.test_accuracy.unwrap();
    assert_eq!(frame.step, 300);
    assert!(after >= 0.9, "DFA test accuracy {after} after 300 steps");
    assert!(after > before + 0.2, "from {before} to {after}");
    assert_eq!(lane.grad.len(), 3, "a magnitude per block");
    assert!(lane.grad.iter().all(|g| g.is_some_and(|g| g > 0.0)));
    assert!(lane.angle[0].is_some_and(|a| (0.0..180.0).contains(&a)));
    let map = decoded(&lane.maps[0].probabilities);
    assert_eq!(map.len(), 48 * 48 * 2);
}

#[test]
fn the_same_spec_replays_the_same_frames() {
    let run = || {
        let mut session = Session::new(spec("feedback_alignment")).unwrap();
        session.step(37);
        let lane = session.frame().lanes.remove(0);
        (lane.test_loss, lane.maps[0].probabilities.clone())
    };
    assert_eq!(run(), run());
    let mut other = spec("feedback_alignment");
    other.seed = 1;
    let mut session = Session::new(other).unwrap();
    session.step(37);
    assert_ne!(
        session.frame().lanes[0].test_loss,
        run().0,
        "the seed matters"
    );
}

#[test]
fn compare_mode_starts_from_the_same_weights_and_steps_on_the_same_batches() {
    let mut both = Session::new(PlaygroundSpec {
        compare: Some("dfa".into()),
        ..spec("backprop")
    })
    .unwrap();
    let start = both.frame();
    assert_eq!(start.lanes.len(), 2);
    assert_eq!(
        start.lanes[0].maps[0].probabilities, start.lanes[1].maps[0].probabilities,
        "same initial weights"
    );
    both.step(25);
    let after = both.frame();
    assert_ne!(
        after.lanes[0].maps[0].probabilities,
        after.lanes[1].maps[0].probabilities
    );
    for (lane, rule) in after.lanes.iter().zip(["backprop", "dfa"]) {
        let mut alone = Session::new(spec(rule)).unwrap();
        alone.step(25);
        let solo = alone.frame();
        assert_eq!(lane.test_loss, solo.lanes[0].test_loss, "{rule}");
    }
}

#[test]
fn every_rule_runs_and_decoder_rules_draw_each_blocks_boundary() {
    for rule in crate::BUILT_IN_RULES {
        let mut session = Session::new(spec(rule)).unwrap_or_else(|e| panic!("{rule}: {e}"));
        session.step(5);
        let frame = session.frame();
        let lane = &frame.lanes[0];
        assert!(lane.test_loss.is_finite(), "{rule}");
        assert!(!lane.maps.is_empty(), "{rule} draws the output's map");
        if rule == "linear_decoder" || rule == "local_loss" {
            let sources: Vec<&str> = lane.maps.iter().map(|m| m.source.as_str()).collect();
            assert_eq!(sources, ["net", "block 0", "block 1"], "{rule}");
        }
    }
}

#[test]
fn hard_units_with_their_estimators_and_mixed_rules_train() {
    let mut session = Session::new(PlaygroundSpec {
        activation: vec!["sign".into(), "stochastic_binary".into()],
        estimator: vec!["ste".into(), "ste_sigmoid".into()],
        hidden: vec![16, 16],
        rule: "backprop,dfa,dfa".into(),
        ..PlaygroundSpec::default()
    })
    .unwrap();
    session.step(200);
    let accuracy = session.frame().lanes[0].test_accuracy.unwrap();
    assert!(accuracy > 0.7, "sign/stochastic net at {accuracy}");
}

#[test]
fn every_playground_data_set_draws() {
    for set in [
        "signed_xor",
        "xor",
        "circles",
        "moons",
        "spirals",
        "gaussians",
    ] {
        let session = Session::new(PlaygroundSpec {
            dataset: set.into(),
            noise: Some(0.1),
            ..PlaygroundSpec::default()
        })
        .unwrap();
        let info = session.info();
        assert_eq!(info.train.len() + info.test.len(), 500, "{set}");
        assert_eq!(info.train.len(), 250, "{set}: train_ratio 0.5");
        assert!(info.x_range.0 < info.x_range.1);
    }
}

#[test]
fn bad_specs_are_refused_with_the_key_named() {
    let cases: Vec<(PlaygroundSpec, &str)> = vec![
        (
            PlaygroundSpec {
                dataset: "iris".into(),
                ..PlaygroundSpec::default()
            },
            "dataset",
        ),
        (
            PlaygroundSpec {
                hidden: vec![8, 100_000],
                ..PlaygroundSpec::default()
            },
            "hidden",
        ),
        (
            PlaygroundSpec {
                activation: vec!["tanh".into(), "relu".into(), "relu".into()],
                ..PlaygroundSpec::default()
            },
            "activation",
        ),
        (spec("dfaa"), "train.rule"),
        (
            PlaygroundSpec {
                lr: -1.0,
                ..PlaygroundSpec::default()
            },
            "train.lr",
        ),
        (
            PlaygroundSpec {
                activation: vec!["tanhh".into()],
                ..PlaygroundSpec::default()
            },
            "model.activation",
        ),
    ];
    for (spec, key) in cases {
        match Session::new(spec.clone()) {
            Err(Error::Config { key: k, .. }) => assert_eq!(k, key, "{spec:?}"),
            Err(other) => panic!("{spec:?}: {other}"),
            Ok(_) => panic!("{spec:?} accepted"),
        }
    }
}
