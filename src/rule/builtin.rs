//! The built-in rules, registered exactly as a rule from another crate is: one line each (a
//! rule's registration lives at the end of its own file).

use crate::rule::registry::Registration;
use crate::rule::{
    backprop, dfa, drtp, feedback_alignment, forward_forward, linear_decoder, local_loss,
    target_prop,
};

/// Every built-in rule's registration.
pub(crate) fn registrations() -> Vec<Registration> {
    vec![
        backprop::registration(),
        feedback_alignment::registration(),
        dfa::registration(),
        drtp::registration(),
        local_loss::registration(),
        linear_decoder::registration(),
        forward_forward::registration(),
        target_prop::registration(false),
        target_prop::registration(true),
    ]
}
