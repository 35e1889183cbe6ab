//! `model.layers`: the net written layer by layer, e.g.
//! `["linear:300", "batchnorm", "tanh", "dropout:0.2", "linear:300", "tanh", "linear"]`, read
//! into blocks (each a weighted layer with the layers around it).
//!
//! Entries, in the order a block runs them:
//! - an activation name (`tanh`, `leaky_relu:0.2`, `stochastic_binary`) before a linear layer:
//!   that block's input activation;
//! - `dropout:R`: dropout on the input of the next linear layer, rate `R` in `[0, 1)`;
//! - `linear:N`: a fully connected layer of `N` units (the last may be `linear`, its width
//!   the data's);
//! - `batchnorm`, or `batchnorm:fixed` (standardise only, PyTorch's `affine=False`), right
//!   after a linear layer;
//! - an activation name after a linear layer (and batchnorm): the block's activation (none
//!   given: the identity);
//! - `normalize`, after the block's activation: L2-normalise each row.
//!
//! `model.hidden = [300, 300]` (or `model.arch = "300-300"`) with the per-block keys
//! (`model.activation`, `model.batchnorm`, …) is the shorthand for the same nets.

use crate::activation::{ACTIVATION_NAMES, Activation};
use crate::error::{Error, Result};

/// One block as the model describes it, before the data gives the input and output widths.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BlockLayout {
    /// Width of the linear layer; `None` for a last `linear` without one (the data's).
    pub outputs: Option<usize>,
    /// The activation on the block's input.
    pub input_activation: Option<Activation>,
    /// Dropout rate on the linear layer's input.
    pub dropout: f32,
    /// A batchnorm after the linear layer, and whether it is affine.
    pub batchnorm: Option<bool>,
    /// The block's activation (the identity when `None`).
    pub activation: Option<Activation>,
    /// Whether the output is L2-normalised.
    pub normalize: bool,
}

/// Where the reader stands in the current block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before any linear layer, or after a block's activation or normalisation.
    Between,
    /// Right after a linear layer or its batchnorm.
    Linear,
    /// After the block's activation.
    Activated,
}

/// The block-building state while reading the list.
#[derive(Default)]
struct Reader {
    blocks: Vec<BlockLayout>,
    input_activation: Option<Activation>,
    dropout: Option<f32>,
    stage: Option<Stage>,
}

fn error(index: usize, entry: &str, message: impl std::fmt::Display) -> Error {
    Error::config(
        "model.layers",
        format!("entry {} `{entry}`: {message}", index + 1),
    )
}

/// What the list accepts, for error messages.
fn kinds() -> String {
    format!(
        "linear:N, batchnorm, batchnorm:fixed, dropout:R, normalize, or an activation ({})",
        ACTIVATION_NAMES.join(", ")
    )
}

impl Reader {
    fn stage(&self) -> Stage {
        self.stage.unwrap_or(Stage::Between)
    }

    fn linear(&mut self, index: usize, entry: &str, arg: Option<&str>) -> Result<()> {
        if self.blocks.last().is_some_and(|b| b.outputs.is_none()) {
            return Err(error(
                index,
                entry,
                "only the last linear layer may leave out its width",
            ));
        }
        let outputs = match arg {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(error(index, entry, "the width must be a positive integer")),
            },
        };
        self.blocks.push(BlockLayout {
            outputs,
            input_activation: self.input_activation.take(),
            dropout: self.dropout.take().unwrap_or(0.0),
            batchnorm: None,
            activation: None,
            normalize: false,
        });
        self.stage = Some(Stage::Linear);
        Ok(())
    }

    fn batchnorm(&mut self, index: usize, entry: &str, arg: Option<&str>) -> Result<()> {
        let affine = match arg {
            None => true,
            Some("fixed") => false,
            Some(_) => {
                return Err(error(
                    index,
                    entry,
                    "write `batchnorm` or `batchnorm:fixed`",
                ));
            }
        };
        match self.blocks.last_mut() {
            Some(block) if self.stage == Some(Stage::Linear) && block.batchnorm.is_none() => {
                block.batchnorm = Some(affine);
                Ok(())
            }
            _ => Err(error(
                index,
                entry,
                "a batchnorm goes right after a linear layer",
            )),
        }
    }

    fn dropout(&mut self, index: usize, entry: &str, arg: Option<&str>) -> Result<()> {
        let rate = arg
            .and_then(|a| a.parse::<f32>().ok())
            .filter(|r| (0.0..1.0).contains(r))
            .ok_or_else(|| error(index, entry, "write `dropout:R` with a rate R in [0, 1)"))?;
        if self.dropout.is_some() {
            return Err(error(index, entry, "two dropouts before one linear layer"));
        }
        self.dropout = Some(rate);
        self.stage = Some(Stage::Between);
        Ok(())
    }

    fn normalize(&mut self, index: usize, entry: &str) -> Result<()> {
        match self.blocks.last_mut() {
            Some(block) if self.stage == Some(Stage::Activated) => {
                block.normalize = true;
                self.stage = Some(Stage::Between);
                Ok(())
            }
            _ => Err(error(
                index,
                entry,
                "normalize goes right after a block's activation",
            )),
        }
    }

    fn activation(&mut self, index: usize, entry: &str, activation: Activation) -> Result<()> {
        if self.stage() == Stage::Linear {
            let block = self.blocks.last_mut().expect("a linear layer was read");
            block.activation = Some(activation);
            self.stage = Some(Stage::Activated);
            return Ok(());
        }
        if self.dropout.is_some() {
            return Err(error(
                index,
                entry,
                "an input activation goes before the dropout on the same input",
            ));
        }
        if self.input_activation.is_some() {
            return Err(error(
                index,
                entry,
                "two input activations before one linear layer",
            ));
        }
        self.input_activation = Some(activation);
        self.stage = Some(Stage::Between);
        Ok(())
    }
}

/// Reads `model.layers` into blocks, input first; the message of an error names the entry.
pub(crate) fn read(entries: &[String]) -> Result<Vec<BlockLayout>> {
    let mut reader = Reader::default();
    for (index, entry) in entries.iter().enumerate() {
        let text = entry.trim();
        let (head, arg) = match text.split_once(':') {
            Some((head, arg)) => (head, Some(arg)),
            None => (text, None),
        };
        match head {
            "linear" => reader.linear(index, entry, arg)?,
            "batchnorm" => reader.batchnorm(index, entry, arg)?,
            "dropout" => reader.dropout(index, entry, arg)?,
            "normalize" if arg.is_none() => reader.normalize(index, entry)?,
            _ => match text.parse::<Activation>() {
                Ok(activation) => reader.activation(index, entry, activation)?,
                Err(_) => {
                    return Err(error(
                        index,
                        entry,
                        format!("unknown layer (layers: {})", kinds()),
                    ));
                }
            },
        }
    }
    finish(reader, entries)
}

/// Checks what only the whole list shows: at least one linear layer, nothing left over after
/// the last, and an output block without the hidden blocks' extras.
fn finish(reader: Reader, entries: &[String]) -> Result<Vec<BlockLayout>> {
    let Some(output) = reader.blocks.last() else {
        return Err(Error::config(
            "model.layers",
            "the net needs at least one linear layer",
        ));
    };
    if reader.input_activation.is_some() || reader.dropout.is_some() {
        return Err(Error::config(
            "model.layers",
            format!(
                "`{}` after the output block: an input activation or dropout needs a linear \
                 layer after it",
                entries.last().map(String::as_str).unwrap_or_default()
            ),
        ));
    }
    let extras = [
        (output.input_activation.is_some(), "an input activation"),
        (output.batchnorm.is_some(), "a batchnorm"),
        (output.normalize, "normalize"),
    ];
    if let Some((_, what)) = extras.iter().find(|(present, _)| *present) {
        return Err(Error::config(
            "model.layers",
            format!("the output block (the last linear layer) takes no {what}; hidden blocks do"),
        ));
    }
    Ok(reader.blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_list_reads_into_blocks_in_order() {
        let blocks = read(&layers(
            "linear:30 batchnorm:fixed tanh normalize sigmoid dropout:0.25 linear:20 \
             dropout:0.1 linear softmax",
        ))
        .unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].outputs, Some(30));
        assert_eq!(blocks[0].batchnorm, Some(false));
        assert_eq!(blocks[0].activation, Some(Activation::Tanh));
        assert!(blocks[0].normalize);
        assert_eq!(blocks[1].input_activation, Some(Activation::Sigmoid));
        assert_eq!(blocks[1].dropout, 0.25);
        assert_eq!(
            blocks[1].activation, None,
            "no activation listed: the identity"
        );
        assert_eq!(blocks[2].outputs, None);
        assert_eq!(blocks[2].dropout, 0.1);
        assert_eq!(blocks[2].activation, Some(Activation::Softmax));
    }

    #[test]
    fn every_misplaced_entry_is_named() {
        let cases = [
            (
                "batchnorm linear:3 linear",
                "entry 1 `batchnorm`: a batchnorm goes right after",
            ),
            (
                "linear:3 tanh normalize normalize linear",
                "entry 4 `normalize`",
            ),
            (
                "dropout:0.2 tanh linear",
                "entry 2 `tanh`: an input activation goes before",
            ),
            (
                "linear tanh linear",
                "entry 3 `linear`: only the last linear layer",
            ),
            (
                "linear:0 linear",
                "entry 1 `linear:0`: the width must be a positive integer",
            ),
            ("dropout:1.5 linear", "entry 1 `dropout:1.5`"),
            (
                "linear:3 conv:5 linear",
                "entry 2 `conv:5`: unknown layer (layers: linear:N",
            ),
            (
                "linear:3 tanh linear batchnorm",
                "the output block (the last linear layer)",
            ),
            (
                "linear:3 tanh linear dropout:0.1",
                "needs a linear layer after it",
            ),
            ("tanh", "at least one linear layer"),
        ];
        for (text, want) in cases {
            let message = read(&layers(text)).unwrap_err().to_string();
            assert!(message.starts_with("config `model.layers`"), "{message}");
            assert!(message.contains(want), "{text}: {message}");
        }
    }
}
