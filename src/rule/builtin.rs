//! The built-in rules, registered exactly as a rule from another crate is: one line each.

use crate::error::Error;
use crate::rule::registry::{self, NoSettings, Registration, RuleKind};
use crate::rule::{
    Backprop, Dfa, Drtp, FeedbackAlignment, ForwardForward, LinearDecoder, LocalLoss, TargetProp,
};
use crate::task::Problem;

/// Every built-in rule's registration, by name.
pub(crate) fn registrations() -> Vec<(&'static str, Registration)> {
    let target_prop = RuleKind::Net {
        embeds_label: false,
        target_prop_optimizer: true,
    };
    vec![
        (
            "backprop",
            registry::chained(
                "backprop",
                "the true gradient through each W",
                |_, _: &NoSettings| Ok(Box::new(Backprop)),
            ),
        ),
        (
            "feedback_alignment",
            registry::chained(
                "feedback_alignment",
                "the error through fixed B of W's shape (random, usf, brsf, frsf)",
                |ctx, _: &NoSettings| {
                    Ok(Box::new(FeedbackAlignment::new(
                        ctx.net,
                        ctx.index,
                        &ctx.settings.feedback,
                        ctx.rng,
                    )))
                },
            ),
        ),
        (
            "dfa",
            registry::chained(
                "dfa",
                "the output error projected to each block: e·B_i",
                |ctx, _: &NoSettings| {
                    Ok(Box::new(Dfa::new(
                        ctx.net,
                        ctx.index,
                        ctx.task,
                        &ctx.settings.feedback,
                        ctx.rng,
                    )))
                },
            ),
        ),
        (
            "drtp",
            registry::local(
                "drtp",
                "the one-hot target projected to each block: −y*·B_i",
                |ctx, _: &NoSettings| Ok(Box::new(Drtp::build(ctx)?)),
            ),
        ),
        (
            "local_loss",
            registry::local(
                "local_loss",
                "a loss on h_i·P_iᵀ through a fixed random P_i",
                |ctx, _: &NoSettings| {
                    Ok(Box::new(LocalLoss::new(
                        ctx.net,
                        ctx.index,
                        ctx.task,
                        &ctx.settings.feedback,
                        ctx.rng,
                    )))
                },
            ),
        ),
        (
            "linear_decoder",
            registry::local(
                "linear_decoder",
                "a loss through a learned bias-free decoder D_i",
                |ctx, _: &NoSettings| {
                    Ok(Box::new(LinearDecoder::new(
                        ctx.net,
                        ctx.index,
                        ctx.task,
                        &ctx.settings.feedback,
                        ctx.rng,
                    )))
                },
            ),
        ),
        (
            "forward_forward",
            registry::net(
                "forward_forward",
                "goodness of positive vs negative data, per block",
                RuleKind::Net {
                    embeds_label: true,
                    target_prop_optimizer: false,
                },
                |ctx, _: &NoSettings| {
                    if ctx.task.problem == Problem::Reconstruction {
                        return Err(Error::config(
                            "train.problem",
                            "forward_forward has no reconstruction variant (it needs class labels)",
                        ));
                    }
                    Ok(Box::new(ForwardForward::new(
                        ctx.task,
                        ctx.settings.ff_threshold,
                        ctx.settings.ff_sharpness,
                    )))
                },
            ),
        ),
        (
            "target_prop",
            registry::net(
                "target_prop",
                "targets sent down through inverses: t_{i-1} = g_i(t_i)",
                target_prop,
                |ctx, _: &NoSettings| {
                    Ok(Box::new(TargetProp::new(
                        ctx.net,
                        false,
                        ctx.settings.target_prop.clone(),
                        ctx.settings.feedback.init,
                        ctx.rng,
                    )?))
                },
            ),
        ),
        (
            "difference_target_prop",
            registry::net(
                "difference_target_prop",
                "t_{i-1} = h_{i-1} + g_i(t_i) − g_i(h_i)",
                target_prop,
                |ctx, _: &NoSettings| {
                    Ok(Box::new(TargetProp::new(
                        ctx.net,
                        true,
                        ctx.settings.target_prop.clone(),
                        ctx.settings.feedback.init,
                        ctx.rng,
                    )?))
                },
            ),
        ),
    ]
}
