//! Rules without a backward chain step each block as soon as its gradients are known: the same
//! weights as stepping after the whole pass, and heap memory flat in depth.

use crate::host;
use plasticity::engine::{Trainer, TrainerOptions};
use plasticity::experiment::ExperimentConfig;
use plasticity::net::Parameters;

/// Every tensor of the net and the rule after `steps` steps on digits (dropout, batchnorm), and
/// the per-block magnitudes, stepping block by block or after the whole pass.
fn trained(
    overrides: &[&str],
    block_by_block: bool,
    steps: usize,
) -> (Vec<(String, Vec<f32>)>, String) {
    let all: Vec<String> = [
        "data.dataset=digits",
        "model.hidden=[24,20,16]",
        "model.dropout=0.1",
        "model.batchnorm=true",
        "model.activation=tanh",
        "train.lr=0.01",
    ]
    .iter()
    .chain(overrides)
    .map(|s| s.to_string())
    .collect();
    let config = ExperimentConfig::load(None, &all).unwrap();
    let data = plasticity::data::load(&config.data).unwrap();
    let options = TrainerOptions {
        diagnostics: true,
        streaming: block_by_block,
    };
    let mut trainer = Trainer::with_options(&config, &data, options).unwrap();
    for step in 0..steps {
        let rows: Vec<usize> = (step * 40..step * 40 + 40).collect();
        let batch = trainer.batch(&data.train, &rows);
        let report = trainer.step(&batch);
        assert_eq!(report.streamed, block_by_block, "{overrides:?}");
        if step % 2 == 1 {
            trainer.rule_mut().end_epoch(step / 2 + 1);
        }
    }
    let mut tensors = Vec::new();
    let values = |t: &burn::tensor::Tensor<2>| host::values(t);
    trainer
        .net()
        .visit(&mut |name, _, t| tensors.push((name.to_string(), values(t))));
    trainer
        .rule()
        .visit(&mut |name, _, t| tensors.push((name.to_string(), values(t))));
    (tensors, format!("{:?}", trainer.take_magnitudes()))
}

#[test]
fn block_by_block_steps_give_the_same_weights_and_magnitudes() {
    let cases: [&[&str]; 6] = [
        &["train.rule=drtp"],
        &["train.rule=local_loss"],
        &["train.rule=linear_decoder"],
        &[
            "train.rule=linear_decoder",
            "train.layerwise=sequential",
            "train.layer_epochs=1",
        ],
        &["train.rule=forward_forward"],
        &["train.rules=[\"local_loss\", \"drtp\", \"linear_decoder\", \"backprop\"]"],
    ];
    for case in cases {
        let (whole, whole_magnitudes) = trained(case, false, 6);
        let (streamed, streamed_magnitudes) = trained(case, true, 6);
        let (initial, _) = trained(case, false, 0);
        assert_eq!(whole.len(), streamed.len());
        for (((name, a), (_, b)), (_, start)) in whole.iter().zip(&streamed).zip(&initial) {
            assert_eq!(a, b, "{case:?}: {name}");
            if name.ends_with("linear.weight") && !case.contains(&"train.layerwise=sequential") {
                assert_ne!(a, start, "{case:?}: {name} learned");
            }
        }
        assert_eq!(whole_magnitudes, streamed_magnitudes, "{case:?}");
    }
}
