//! An activation as a layer: smooth units with their exact derivative, hard units with their
//! estimator, stochastic units sampled from the run's stream.

use burn::tensor::Tensor;

use crate::activation::estimator::{concrete_backward, concrete_sample};
use crate::activation::{Activation, Estimator, EvalMode, hard, noise};
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};
use crate::rng::Rng;

/// Seed of the stream stochastic units sample from in evaluation (`eval_mode = "sample"`),
/// so that evaluations repeat exactly.
const EVAL_SEED: u64 = 0x5eed;

/// `h = f(a)` element-wise (row-wise for softmax).
///
/// In training stochastic and noisy units sample from the run's stream; with a `concrete`
/// estimator and `relaxes` set, binary and categorical units draw a Gumbel-relaxed sample
/// instead. In evaluation stochastic units threshold, or sample from a fixed stream under
/// `eval_mode = "sample"`, or output their mean under `"expectation"` (noisy units alike). The
/// backward is the exact derivative for smooth units (noisy ones: at the drawn noise) and the
/// estimator's surrogate for hard ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationLayer {
    /// The function.
    pub activation: Activation,
    /// How a hard unit's gradient is estimated.
    pub estimator: Estimator,
    /// How stochastic units behave in evaluation.
    pub eval_mode: EvalMode,
    /// Whether a `concrete` estimator relaxes the sample (a block's own activation; not an
    /// activation applied to a block's input).
    pub relaxes: bool,
    /// `activation` for a block's own activation, `input_activation` for one on its input.
    pub name: &'static str,
}

/// The relaxed sample a concrete estimator drew, `[batch, units]`.
struct Relaxed(Tensor<2>);

impl ActivationLayer {
    /// A plain (not relaxed) activation: stochastic units sample in training, and in evaluation
    /// under `eval_mode = "sample"`.
    fn apply(&self, a: Tensor<2>, mode: &mut Mode<'_>) -> Tensor<2> {
        let activation = &self.activation;
        if activation.is_noisy() {
            return match (mode, self.eval_mode) {
                (Mode::Train(rng), _) => noise::sample(activation, a, rng),
                (_, EvalMode::Sample) => noise::sample(activation, a, &mut Rng::new(EVAL_SEED)),
                (_, EvalMode::Expectation) => noise::expectation(activation, a),
                (_, EvalMode::Threshold) => activation.forward(a),
            };
        }
        match mode {
            Mode::Train(rng) if activation.is_stochastic() => hard::sample(activation, a, rng),
            Mode::Eval | Mode::Calibrate
                if activation.is_stochastic() && self.eval_mode == EvalMode::Sample =>
            {
                hard::sample(activation, a, &mut Rng::new(EVAL_SEED))
            }
            Mode::Eval | Mode::Calibrate
                if activation.is_stochastic() && self.eval_mode == EvalMode::Expectation =>
            {
                hard::probability(activation, a)
            }
            _ => activation.forward(a),
        }
    }
}

impl Layer for ActivationLayer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn draws_in_training(&self) -> bool {
        let activation = &self.activation;
        activation.is_noisy()
            || activation.is_stochastic()
            || (self.relaxes && self.estimator.relaxes(activation))
    }

    fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> LayerCache {
        match (mode, self.estimator) {
            (
                Mode::Train(rng),
                Estimator::Concrete {
                    temperature,
                    straight_through,
                },
            ) if self.relaxes && self.estimator.relaxes(&self.activation) => {
                let (output, relaxed) = concrete_sample(
                    &self.activation,
                    x.clone(),
                    temperature,
                    straight_through,
                    rng,
                );
                LayerCache::new(x, output).with_state(Relaxed(relaxed))
            }
            (mode, _) => {
                let output = self.apply(x.clone(), mode);
                LayerCache::new(x, output)
            }
        }
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let activation = &self.activation;
        let grad = match (cache.state::<Relaxed>(), self.estimator) {
            (Some(Relaxed(relaxed)), Estimator::Concrete { temperature, .. }) => {
                concrete_backward(activation, relaxed, temperature, grad_output)
            }
            _ if activation.is_hard() => {
                grad_output * self.estimator.surrogate_derivative(&cache.input)
            }
            _ => activation.backward(&cache.input, &cache.output, grad_output),
        };
        (Vec::new(), grad)
    }
}
