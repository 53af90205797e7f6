//! Parameter values that serialize: save a fit, load it, resume it.

use super::Error;
use serde::{Deserialize, Serialize};
use std::path::Path;
use vprog_runtime::params::ParamStore;

/// The values of a program's learnable parameters, by qualified name
/// (`guide.mu`, or `mu` for a top-level `param`). They are stored as the
/// optimizer sees them — unconstrained (the log of a `positive` parameter,
/// the logit of a `unit_interval` one) — so a fit resumed from loaded
/// parameters continues exactly where the saved one stopped.
///
/// `Params` serialize with serde; [`Params::to_json`] and
/// [`Params::from_json`] (and [`Params::save`] / [`Params::load`] for
/// files) use JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params {
    pub(crate) store: ParamStore,
}

impl Params {
    /// The qualified names, in the program's parameter order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.store.params.iter().map(|p| p.name.as_str())
    }

    /// The stored (unconstrained) elements of parameter `name`, row-major.
    pub fn raw(&self, name: &str) -> Option<&[f64]> {
        self.store
            .params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.raw.as_slice())
    }

    /// Sets the stored (unconstrained) elements of parameter `name`.
    pub fn set_raw(&mut self, name: &str, raw: &[f64]) -> Result<(), Error> {
        let p = self
            .store
            .params
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::NotFound {
                kind: "parameter",
                name: name.to_string(),
            })?;
        if p.raw.len() != raw.len() {
            return Err(Error::invalid(format!(
                "parameter `{name}` has {} element(s), not {}",
                p.raw.len(),
                raw.len()
            )));
        }
        p.raw = raw.to_vec();
        Ok(())
    }

    /// The parameters as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("[]"))
    }

    /// Parameters from JSON written by [`Params::to_json`].
    pub fn from_json(json: &str) -> Result<Params, Error> {
        serde_json::from_str(json).map_err(|e| Error::invalid(format!("invalid parameters: {e}")))
    }

    /// Writes the parameters to `path` as JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads parameters written by [`Params::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Params, Error> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Params::from_json(&json)
    }
}
