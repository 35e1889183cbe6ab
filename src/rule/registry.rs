//! The rule registry: every rule a config can name, built-in or added from another crate,
//! registered under its name with a factory. Configs, comparisons and sweeps look rules up
//! here, so a registered rule is usable everywhere at once.
//!
//! A rule may have its own settings: a top-level section named after it
//! (`[kolen_pollack] decay = 1e-3`), deserialised into the settings type given at
//! registration (unknown keys rejected, errors naming `kolen_pollack.<key>`) when the config is
//! resolved, before any tensor is made.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::net::Net;
use crate::rng::Rng;
use crate::rule::{ChainedRule, LearningRule, LocalRule, RuleSettings};
use crate::task::Task;

/// What a factory builds a rule from.
pub struct BuildContext<'a> {
    /// The hidden block the rule is for (per-block rules; 0 for whole-net rules).
    pub index: usize,
    /// The freshly initialised net.
    pub net: &'a Net,
    /// The output task.
    pub task: Task,
    /// The validated rule settings of `[train]` and `[target_prop]`.
    pub settings: &'a RuleSettings,
    /// The stream fixed matrices are drawn from (seeded by the run's seed).
    pub rng: &'a mut Rng,
}

/// What a rule's model check looks at: the config's net, before any tensor is made.
pub struct ModelView<'a> {
    /// The rule's name.
    pub name: &'a str,
    /// Every block's description (input and output widths may be placeholders).
    pub specs: &'a [crate::net::BlockSpec],
    /// The validated rule settings.
    pub settings: &'a RuleSettings,
    /// What the output learns.
    pub problem: crate::task::Problem,
}

/// A check of the net and settings a rule is asked to train; the error names the key.
pub type ModelCheck = fn(&ModelView<'_>) -> Result<()>;

/// A rule without settings of its own: its section, if given, must be empty.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// What kind of rule a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A per-block rule whose signal needs only the block's own output.
    Local,
    /// A per-block rule whose signal needs the output error or the block above.
    Chained,
    /// A rule that trains the whole net itself (it cannot be mixed per block).
    Net {
        /// Whether the net's input carries the label (`features + classes` inputs, no output
        /// block), as for forward-forward.
        embeds_label: bool,
        /// Whether the `[target_prop]` section's optimizer trains the rule's own tensors.
        target_prop_optimizer: bool,
    },
}

type Check = Box<dyn Fn(Option<&toml::Table>) -> Result<()> + Send + Sync>;
type Build<T> = Box<dyn Fn(&mut BuildContext<'_>, Option<&toml::Table>) -> Result<T> + Send + Sync>;

/// How a registered rule is made.
enum Factory {
    Local(Build<Box<dyn LocalRule>>),
    Chained(Build<Box<dyn ChainedRule>>),
    Net(Build<Box<dyn LearningRule>>),
}

/// A rule's entry in the registry: its name, description, kind, settings type, optional model
/// check and factory. Made by [`local`], [`chained`] or [`net`] (then optionally
/// [`Registration::checking`]) and added with [`register`]; the built-in rules make theirs the
/// same way.
pub struct Registration {
    name: String,
    description: String,
    kind: RuleKind,
    check: Check,
    model_check: Option<ModelCheck>,
    factory: Factory,
}

impl Registration {
    /// The same, with a check of the net it is asked to train, run when a config naming the
    /// rule is read (before any tensor is made) and when the rule is built.
    pub fn checking(mut self, check: ModelCheck) -> Self {
        self.model_check = Some(check);
        self
    }
}

/// A rule once built.
pub enum Built {
    /// A per-block local rule.
    Local(Box<dyn LocalRule>),
    /// A per-block chained rule.
    Chained(Box<dyn ChainedRule>),
    /// A whole-net rule.
    Net(Box<dyn LearningRule>),
}

static REGISTRY: LazyLock<RwLock<BTreeMap<String, Arc<Registration>>>> = LazyLock::new(|| {
    let mut map = BTreeMap::new();
    for registration in crate::rule::builtin::registrations() {
        map.insert(registration.name.clone(), Arc::new(registration));
    }
    RwLock::new(map)
});

/// Parses a rule's section into its settings type, naming `rule.key` in errors.
fn parse_section<S: DeserializeOwned + Default>(
    name: &str,
    section: Option<&toml::Table>,
) -> Result<S> {
    let Some(table) = section else {
        return Ok(S::default());
    };
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            name.to_string()
        } else {
            format!("{name}.{path}")
        };
        Error::config(key, e.into_inner().message().replace('\n', " "))
    })
}

fn registration<S, T, F>(
    name: &str,
    description: &str,
    kind: RuleKind,
    wrap: fn(Build<T>) -> Factory,
    factory: F,
) -> Registration
where
    S: DeserializeOwned + Default + 'static,
    T: 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<T> + Send + Sync + 'static,
{
    let (check_name, build_name) = (name.to_string(), name.to_string());
    Registration {
        name: name.to_string(),
        description: description.to_string(),
        kind,
        check: Box::new(move |section| parse_section::<S>(&check_name, section).map(drop)),
        model_check: None,
        factory: wrap(Box::new(move |ctx, section| {
            let settings = parse_section::<S>(&build_name, section)?;
            factory(ctx, &settings)
        })),
    }
}

/// A local per-block rule with settings of type `S` (its `[name]` section).
pub fn local<S, F>(name: &str, description: &str, factory: F) -> Registration
where
    S: DeserializeOwned + Default + 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<Box<dyn LocalRule>> + Send + Sync + 'static,
{
    registration(name, description, RuleKind::Local, Factory::Local, factory)
}

/// A chained per-block rule with settings of type `S`.
pub fn chained<S, F>(name: &str, description: &str, factory: F) -> Registration
where
    S: DeserializeOwned + Default + 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<Box<dyn ChainedRule>> + Send + Sync + 'static,
{
    registration(
        name,
        description,
        RuleKind::Chained,
        Factory::Chained,
        factory,
    )
}

/// A whole-net rule of `kind` with settings of type `S`.
pub fn net<S, F>(name: &str, description: &str, kind: RuleKind, factory: F) -> Registration
where
    S: DeserializeOwned + Default + 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<Box<dyn LearningRule>> + Send + Sync + 'static,
{
    registration(name, description, kind, Factory::Net, factory)
}

/// Adds `registration` to the registry; an error if its name is taken or is not a rule name
/// (lowercase letters, digits, `_`), or if a whole-net factory was given a per-block kind.
pub fn register(registration: Registration) -> Result<()> {
    let name = registration.name.clone();
    if matches!(registration.factory, Factory::Net(_))
        && !matches!(registration.kind, RuleKind::Net { .. })
    {
        return Err(Error::config(
            "train.rule",
            format!("`{name}`: a whole-net rule registers with RuleKind::Net"),
        ));
    }
    insert(&name, registration)
}

fn insert(name: &str, registration: Registration) -> Result<()> {
    let mut map = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if map.contains_key(name) {
        return Err(Error::config(
            "train.rule",
            format!("a rule named `{name}` is already registered"),
        ));
    }
    if !valid_name(name) {
        return Err(Error::config(
            "train.rule",
            format!("`{name}` is not a rule name (lowercase letters, digits and `_`)"),
        ));
    }
    map.insert(name.to_string(), Arc::new(registration));
    Ok(())
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Registers a local per-block rule (see [`LocalRule`]) under `name`; its settings, of type
/// `S`, come from the config's `[name]` section ([`NoSettings`] for none). An error if the name
/// is taken.
pub fn register_local<S, F>(name: &str, description: &str, factory: F) -> Result<()>
where
    S: DeserializeOwned + Default + 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<Box<dyn LocalRule>> + Send + Sync + 'static,
{
    register(local(name, description, factory))
}

/// Registers a chained per-block rule (see [`ChainedRule`]) under `name`, as
/// [`register_local`] does.
pub fn register_chained<S, F>(name: &str, description: &str, factory: F) -> Result<()>
where
    S: DeserializeOwned + Default + 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<Box<dyn ChainedRule>> + Send + Sync + 'static,
{
    register(chained(name, description, factory))
}

/// Registers a whole-net rule (see [`LearningRule`]) of `kind` (a [`RuleKind::Net`]) under
/// `name`, as [`register_local`] does.
pub fn register_net<S, F>(name: &str, description: &str, kind: RuleKind, factory: F) -> Result<()>
where
    S: DeserializeOwned + Default + 'static,
    F: Fn(&mut BuildContext<'_>, &S) -> Result<Box<dyn LearningRule>> + Send + Sync + 'static,
{
    register(net(name, description, kind, factory))
}

fn lookup(name: &str, key: &str) -> Result<Arc<Registration>> {
    let map = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    map.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = map.keys().map(String::as_str).collect();
        Error::config(
            key,
            format!(
                "unknown rule `{name}`{} (registered: {})",
                crate::suggest::did_you_mean(name, known.iter().copied()),
                known.join(", ")
            ),
        )
    })
}

/// The kind of the rule `name`; `key` names the config key in the error for an unknown one,
/// which lists the registered rules.
pub fn kind(name: &str, key: &str) -> Result<RuleKind> {
    Ok(lookup(name, key)?.kind)
}

/// Whether any of `names` is a registered whole-net rule whose flags
/// `(embeds_label, target_prop_optimizer)` satisfy `flag`.
pub fn any_net_rule(names: &[String], flag: impl Fn(bool, bool) -> bool) -> bool {
    names.iter().any(|name| match kind(name, "train.rule") {
        Ok(RuleKind::Net {
            embeds_label,
            target_prop_optimizer,
        }) => flag(embeds_label, target_prop_optimizer),
        _ => false,
    })
}

/// Whether `name` is a registered rule.
pub fn is_registered(name: &str) -> bool {
    REGISTRY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(name)
}

/// Every registered rule's name and description, by name.
pub fn registered() -> Vec<(String, String)> {
    let map = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    map.iter()
        .map(|(name, r)| (name.clone(), r.description.clone()))
        .collect()
}

/// Checks the rule's settings section (`None`: not given).
pub fn check_section(name: &str, section: Option<&toml::Table>) -> Result<()> {
    (lookup(name, "train.rule")?.check)(section)
}

/// The model check of rules that need class labels (DRTP, forward-forward).
pub fn needs_classes(view: &ModelView<'_>) -> Result<()> {
    if view.problem != crate::task::Problem::Classification {
        return Err(Error::config(
            "train.problem",
            format!(
                "{} needs class targets and has no {:?} variant",
                view.name, view.problem
            )
            .to_lowercase(),
        ));
    }
    Ok(())
}

/// Fails, naming the first convolutional block, for a rule that trains fully connected
/// blocks only (target propagation's inverses, forward-forward's label in the input).
pub fn fully_connected_only(view: &ModelView<'_>) -> Result<()> {
    let first_conv = view
        .specs
        .iter()
        .enumerate()
        .find_map(|(i, spec)| spec.conv.map(|conv| (i, conv)));
    match first_conv {
        Some((i, conv)) => Err(Error::config(
            "train.rule",
            format!(
                "{} trains fully connected blocks only, and block {i} is a convolution ({})",
                view.name,
                conv.geometry()
            ),
        )),
        None => Ok(()),
    }
}

/// Runs the model check the rule `view.name` registered, if any.
pub fn check_model(view: &ModelView<'_>) -> Result<()> {
    match lookup(view.name, "train.rule")?.model_check {
        Some(check) => check(view),
        None => Ok(()),
    }
}

/// Builds the rule `name` from its settings section.
pub fn build(
    name: &str,
    ctx: &mut BuildContext<'_>,
    section: Option<&toml::Table>,
) -> Result<Built> {
    Ok(match &lookup(name, "train.rule")?.factory {
        Factory::Local(build) => Built::Local(build(ctx, section)?),
        Factory::Chained(build) => Built::Chained(build(ctx, section)?),
        Factory::Net(build) => Built::Net(build(ctx, section)?),
    })
}
