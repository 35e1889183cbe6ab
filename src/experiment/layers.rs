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
//! Convolutional nets (image data, samples `[channels, height, width]`):
//! - `conv:C:K`, with optional `:pP` (zero padding) and `:sS` (stride): a convolution of `C`
//!   channels with `K×K` kernels (`conv:6:5:p2`), in place of a linear layer; a `batchnorm`
//!   after it normalises per channel (PyTorch's `BatchNorm2d`);
//! - `spatial_dropout:R`, before a convolution: whole input channels dropped (`Dropout2d`);
//! - `max_pool:K` or `avg_pool:K`, with optional `:sS` (default stride `K`), after a
//!   convolution's activation;
//! - `flatten`, after the last convolutional block (optional: a linear layer after a
//!   convolution flattens its volume, channel-major, as PyTorch's `Flatten`).
//!
//! `model.hidden = [300, 300]` (or `model.arch = "300-300"`) with the per-block keys
//! (`model.activation`, `model.batchnorm`, …) is the shorthand for the same nets; in
//! `model.arch`, `6c5p2` is a convolution (6 channels, 5×5 kernels, padding 2; `s2` a stride),
//! `mp2` / `ap2` a max / average pool of the block before (`mp3s2`: window 3, stride 2), so
//! LeNet-5 is `model.arch = "6c5p2-mp2-16c5-mp2-120-84"`.

use crate::activation::{ACTIVATION_NAMES, Activation};
use crate::error::{Error, Result};
use crate::net::{Pool, PoolKind};

/// A convolutional block's layer settings, as the model describes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvLayout {
    /// Output channels.
    pub channels: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding.
    pub padding: usize,
    /// The pool after the activation.
    pub pool: Option<Pool>,
    /// Whether the block's input dropout drops whole channels.
    pub spatial_dropout: bool,
}

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
    /// The convolution, when the block's weighted layer is one.
    pub conv: Option<ConvLayout>,
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
    spatial_dropout: bool,
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
        "linear:N, conv:C:K[:pP][:sS], batchnorm, batchnorm:fixed, dropout:R, \
         spatial_dropout:R, max_pool:K, avg_pool:K, flatten, normalize, or an activation ({})",
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
        if self.spatial_dropout {
            return Err(error(
                index,
                entry,
                "spatial_dropout goes before a convolution; use dropout before a linear layer",
            ));
        }
        self.push(outputs, None);
        Ok(())
    }

    /// Starts a block with a weighted layer of `outputs` units (or channels).
    fn push(&mut self, outputs: Option<usize>, conv: Option<ConvLayout>) {
        self.blocks.push(BlockLayout {
            outputs,
            input_activation: self.input_activation.take(),
            dropout: self.dropout.take().unwrap_or(0.0),
            batchnorm: None,
            activation: None,
            normalize: false,
            conv,
        });
        self.spatial_dropout = false;
        self.stage = Some(Stage::Linear);
    }

    fn conv(&mut self, index: usize, entry: &str, arg: Option<&str>) -> Result<()> {
        let mut conv = conv_args(arg).map_err(|message| error(index, entry, message))?;
        conv.spatial_dropout = self.spatial_dropout;
        self.push(Some(conv.channels), Some(conv));
        Ok(())
    }

    fn pool(&mut self, index: usize, entry: &str, kind: PoolKind, arg: Option<&str>) -> Result<()> {
        let pool = pool_args(kind, arg).map_err(|message| error(index, entry, message))?;
        match self.blocks.last_mut() {
            Some(BlockLayout {
                conv: Some(conv), ..
            }) if self.stage != Some(Stage::Between) && conv.pool.is_none() => {
                conv.pool = Some(pool);
                self.stage = Some(Stage::Activated);
                Ok(())
            }
            _ => Err(error(
                index,
                entry,
                "a pool goes after a convolution (and its activation), one per convolution",
            )),
        }
    }

    fn flatten(&mut self, index: usize, entry: &str) -> Result<()> {
        let after_conv = self.blocks.last().is_some_and(|b| b.conv.is_some());
        if !after_conv || self.input_activation.is_some() || self.dropout.is_some() {
            return Err(error(
                index,
                entry,
                "flatten goes right after a convolutional block",
            ));
        }
        self.stage = Some(Stage::Between);
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

    fn dropout(
        &mut self,
        index: usize,
        entry: &str,
        arg: Option<&str>,
        spatial: bool,
    ) -> Result<()> {
        let rate = arg
            .and_then(|a| a.parse::<f32>().ok())
            .filter(|r| (0.0..1.0).contains(r))
            .ok_or_else(|| error(index, entry, "write `dropout:R` with a rate R in [0, 1)"))?;
        if self.dropout.is_some() {
            return Err(error(index, entry, "two dropouts before one linear layer"));
        }
        self.dropout = Some(rate);
        self.spatial_dropout = spatial;
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
            "dropout" => reader.dropout(index, entry, arg, false)?,
            "spatial_dropout" => reader.dropout(index, entry, arg, true)?,
            "conv" => reader.conv(index, entry, arg)?,
            "max_pool" => reader.pool(index, entry, PoolKind::Max, arg)?,
            "avg_pool" => reader.pool(index, entry, PoolKind::Avg, arg)?,
            "flatten" if arg.is_none() => reader.flatten(index, entry)?,
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
    if output.conv.is_some() {
        return Err(Error::config(
            "model.layers",
            "the output block is a linear layer: end the list with `linear` after the \
             convolutions",
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

/// Reads a positive integer.
fn positive(text: &str, what: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{what} must be a positive integer, not `{text}`")),
    }
}

/// The options after a convolution's channels and kernel: `pP` (padding), `sS` (stride).
fn conv_options(
    conv: &mut ConvLayout,
    options: &[&str],
    form: &str,
) -> std::result::Result<(), String> {
    for option in options {
        match option.split_at_checked(1) {
            Some(("p", n)) => {
                conv.padding = n
                    .parse()
                    .map_err(|_| format!("the padding must be an integer, not `{n}`"))?
            }
            Some(("s", n)) => conv.stride = positive(n, "the stride")?,
            _ => return Err(format!("unknown option `{option}`: write {form}")),
        }
    }
    Ok(())
}

/// `C:K[:pP][:sS]`, a convolution's settings in `model.layers`.
fn conv_args(arg: Option<&str>) -> std::result::Result<ConvLayout, String> {
    const FORM: &str = "conv:C:K with options :pP (padding) and :sS (stride), e.g. conv:6:5:p2";
    let parts: Vec<&str> = arg.unwrap_or_default().split(':').collect();
    let [channels, kernel, options @ ..] = parts.as_slice() else {
        return Err(format!("write {FORM}"));
    };
    let mut conv = ConvLayout {
        channels: positive(channels, "the channel count")?,
        kernel: positive(kernel, "the kernel size")?,
        stride: 1,
        padding: 0,
        pool: None,
        spatial_dropout: false,
    };
    conv_options(&mut conv, options, FORM)?;
    Ok(conv)
}

/// `K[:sS]`, a pool's window and stride in `model.layers`.
fn pool_args(kind: PoolKind, arg: Option<&str>) -> std::result::Result<Pool, String> {
    let parts: Vec<&str> = arg.unwrap_or_default().split(':').collect();
    let (size, stride) = match parts.as_slice() {
        [size] => (size, None),
        [size, stride] => (size, Some(stride)),
        _ => return Err("write max_pool:K or max_pool:K:sS (window K, stride S)".into()),
    };
    let size = positive(size, "the window")?;
    let stride = match stride.map(|s| s.strip_prefix('s')) {
        None => size,
        Some(Some(n)) => positive(n, "the stride")?,
        Some(None) => return Err("the stride is written sS, e.g. max_pool:3:s2".into()),
    };
    Ok(Pool { kind, size, stride })
}

/// One block of the `model.arch` shorthand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchBlock {
    /// A fully connected layer of this many units.
    Linear(usize),
    /// A convolution (and its pool).
    Conv(ConvLayout),
}

impl ArchBlock {
    /// Units, or channels.
    pub fn width(&self) -> usize {
        match self {
            ArchBlock::Linear(n) => *n,
            ArchBlock::Conv(conv) => conv.channels,
        }
    }
}

/// Splits a shorthand token into its leading number and the rest (`6c5p2` → 6, `c5p2`).
fn leading_number(token: &str) -> Option<(usize, &str)> {
    let end = token
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(token.len());
    token[..end].parse().ok().map(|n| (n, &token[end..]))
}

/// Splits `5p2s1` into its letter-prefixed parts after the first number (`5`, `["p2", "s1"]`).
fn lettered(text: &str) -> Option<(usize, Vec<&str>)> {
    let (first, mut rest) = leading_number(text)?;
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len(), |e| e + 1);
        parts.push(&rest[..end]);
        rest = &rest[end..];
    }
    Some((first, parts))
}

/// Parses `model.arch`: `300-300-300`, or with convolutions and pools,
/// `6c5p2-mp2-16c5-mp2-120-84` (LeNet-5's hidden blocks).
pub(crate) fn parse_arch(arch: &str) -> Result<Vec<ArchBlock>> {
    let bad = |token: &str, why: String| {
        Error::config(
            "model.arch",
            format!(
                "`{token}` in `{arch}`: {why} (write sizes like 300-300, convolutions like \
                 6c5p2 (channels, c, kernel, p padding, s stride), pools like mp2 or ap2s1)"
            ),
        )
    };
    let mut blocks: Vec<ArchBlock> = Vec::new();
    for token in arch.split('-').map(str::trim) {
        let pool = match token.get(..2) {
            Some("mp") => Some(PoolKind::Max),
            Some("ap") => Some(PoolKind::Avg),
            _ => None,
        };
        if let Some(kind) = pool {
            let (size, options) =
                lettered(&token[2..]).ok_or_else(|| bad(token, "a pool needs a window".into()))?;
            let arg = match options.as_slice() {
                [] => size.to_string(),
                [stride] => format!("{size}:{stride}"),
                _ => return Err(bad(token, "a pool takes a window and a stride".into())),
            };
            let pool = pool_args(kind, Some(&arg)).map_err(|why| bad(token, why))?;
            match blocks.last_mut() {
                Some(ArchBlock::Conv(conv)) if conv.pool.is_none() => conv.pool = Some(pool),
                _ => return Err(bad(token, "a pool follows a convolution".into())),
            }
            continue;
        }
        match leading_number(token) {
            Some((n, "")) if n > 0 => blocks.push(ArchBlock::Linear(n)),
            Some((channels, rest)) if rest.starts_with('c') => {
                let (kernel, options) = lettered(&rest[1..])
                    .ok_or_else(|| bad(token, "a convolution needs a kernel size".into()))?;
                let arg = std::iter::once(kernel.to_string())
                    .chain(options.iter().map(|o| o.to_string()))
                    .collect::<Vec<_>>()
                    .join(":");
                let conv =
                    conv_args(Some(&format!("{channels}:{arg}"))).map_err(|why| bad(token, why))?;
                if blocks.iter().any(|b| matches!(b, ArchBlock::Linear(_))) {
                    return Err(bad(token, "convolutions come before linear layers".into()));
                }
                blocks.push(ArchBlock::Conv(conv));
            }
            _ => return Err(bad(token, "not a size, a convolution or a pool".into())),
        }
    }
    Ok(blocks)
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
                "linear:3 conv5 linear",
                "entry 2 `conv5`: unknown layer (layers: linear:N",
            ),
            ("conv:5 linear", "entry 1 `conv:5`: write conv:C:K"),
            ("conv:5:3:q1 linear", "unknown option `q1`"),
            (
                "linear:3 max_pool:2 linear",
                "a pool goes after a convolution",
            ),
            (
                "conv:4:3 relu max_pool:2 max_pool:2 linear",
                "one per convolution",
            ),
            ("linear:3 flatten linear", "flatten goes right after"),
            (
                "spatial_dropout:0.2 linear",
                "spatial_dropout goes before a convolution",
            ),
            ("linear:3 conv:4:3", "the output block is a linear layer"),
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

    #[test]
    fn lenet_reads_as_two_conv_blocks_and_three_linear_ones() {
        let blocks = read(&layers(
            "conv:6:5:p2 relu max_pool:2 spatial_dropout:0.1 conv:16:5 batchnorm relu \
             avg_pool:3:s2 flatten linear:120 relu linear:84 relu linear",
        ))
        .unwrap();
        assert_eq!(blocks.len(), 5);
        let first = blocks[0].conv.expect("a conv block");
        assert_eq!(
            (first.channels, first.kernel, first.padding, first.stride),
            (6, 5, 2, 1)
        );
        assert_eq!(
            first.pool,
            Some(Pool {
                kind: PoolKind::Max,
                size: 2,
                stride: 2
            })
        );
        let second = blocks[1].conv.expect("a conv block");
        assert!(second.spatial_dropout && blocks[1].dropout == 0.1);
        assert_eq!(blocks[1].batchnorm, Some(true));
        assert_eq!(
            second.pool,
            Some(Pool {
                kind: PoolKind::Avg,
                size: 3,
                stride: 2
            })
        );
        assert!(blocks[2..].iter().all(|b| b.conv.is_none()));
        assert_eq!(blocks[2].outputs, Some(120));
    }

    #[test]
    fn the_arch_shorthand_reads_convolutions_and_pools() {
        let blocks = parse_arch("6c5p2-mp2-16c5s2-ap3s1-120-84").unwrap();
        assert_eq!(blocks.len(), 4);
        let ArchBlock::Conv(first) = blocks[0] else {
            panic!("{blocks:?}")
        };
        assert_eq!((first.channels, first.kernel, first.padding), (6, 5, 2));
        assert_eq!(
            first.pool.map(|p| (p.kind, p.size, p.stride)),
            Some((PoolKind::Max, 2, 2))
        );
        let ArchBlock::Conv(second) = blocks[1] else {
            panic!("{blocks:?}")
        };
        assert_eq!((second.kernel, second.stride, second.padding), (5, 2, 0));
        assert_eq!(
            second.pool.map(|p| (p.kind, p.size, p.stride)),
            Some((PoolKind::Avg, 3, 1))
        );
        assert_eq!(blocks[2..], [ArchBlock::Linear(120), ArchBlock::Linear(84)]);
        assert_eq!(parse_arch("300-300").unwrap().len(), 2);
        for (bad, want) in [
            ("mp2-120", "a pool follows a convolution"),
            ("120-6c5", "convolutions come before linear layers"),
            ("6x5", "not a size"),
            ("6c", "needs a kernel size"),
            ("6c5q1", "unknown option"),
            ("0", "not a size"),
        ] {
            let message = parse_arch(bad).unwrap_err().to_string();
            assert!(message.contains(want), "{bad}: {message}");
        }
    }
}
