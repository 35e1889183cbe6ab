//! Rules without a backward chain step each block as soon as its gradients are known: the same
//! weights as stepping after the whole pass, and heap memory flat in depth.

use plasticity::experiment::magnitudes::Magnitudes;
use plasticity::experiment::updates::Updates;
use plasticity::experiment::{ExperimentConfig, Setup};
use plasticity::host;
use plasticity::net::Parameters;
use plasticity::optim::ParamOptimizer;
use plasticity::rng::Rng;
use plasticity::rule::StepContext;

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
    let Setup {
        device,
        data,
        task,
        mut net,
        mut rule,
    } = Setup::new(&config).unwrap();
    let mut optimizer = ParamOptimizer::new(&config.optimizer_settings(60), "train").unwrap();
    let (settings, key) = config.rule_optimizer_settings(60);
    let mut rule_optimizer = ParamOptimizer::new(&settings, key).unwrap();
    let mut magnitudes = Magnitudes::new(net.blocks.len());
    let mut rng = Rng::new(3);
    for step in 0..steps {
        let rows: Vec<usize> = (step * 40..step * 40 + 40).collect();
        let batch = task.batch(&data.train, &rows, &device);
        let mut updates = Updates::begin(
            &mut optimizer,
            &mut rule_optimizer,
            config.rule_optimizer_trains_hidden(),
            net.blocks.len(),
            Some(&mut magnitudes),
        );
        let mut ctx = StepContext::new(&mut rng, task);
        if block_by_block {
            ctx = ctx.with_updater(&mut updates);
        }
        let mut output = rule.step(&mut net, &batch, &mut ctx);
        if block_by_block {
            assert!(
                output.grads.is_empty(),
                "{overrides:?}: stepped block by block"
            );
        }
        updates.finish(&mut net, rule.as_mut(), &mut output.grads);
        if step % 2 == 1 {
            rule.end_epoch(step / 2 + 1);
        }
    }
    let mut tensors = Vec::new();
    net.visit(&mut |name, _, t| tensors.push((name.to_string(), host::values(t))));
    rule.visit(&mut |name, _, t| tensors.push((name.to_string(), host::values(t))));
    (tensors, format!("{:?}", magnitudes.take()))
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
