//! The kinds of deployment obs-init onboards, behind one dispatcher: for each, whether a
//! project has its files, whether obs-init's record says it onboarded it, and how that is
//! taken back. `remove` and `doctor` ask here rather than branching on files themselves, so a
//! new kind (Nomad jobs, say) is a variant and its arms.

use std::path::Path;

use crate::compose::find_compose;
use crate::error::Error;
use crate::plan::Plan;
use crate::plan::kubernetes::{is_workload_needer, manifest_files, plan_kubernetes_remove};
use crate::plan::remove::{RemoveRequest, plan_compose_remove};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// A compose file (and the overlay obs-init may have written beside it).
    Compose,
    /// Kubernetes manifests, plain or kustomized.
    Kubernetes,
}

impl Deployment {
    /// Whether `dir` holds files of this kind (`file`: the compose file named on the
    /// command line, which rules out looking for manifests).
    pub fn present(self, dir: &Path, file: Option<&Path>) -> bool {
        match self {
            Deployment::Compose => find_compose(dir, file).is_ok(),
            Deployment::Kubernetes => file.is_none() && !manifest_files(dir).is_empty(),
        }
    }

    /// Whether the answers file in `dir` records this kind onboarded by obs-init.
    pub fn onboarded(self, dir: &Path) -> bool {
        let Some((answers, _)) = crate::plan::read_answers(dir).ok().flatten() else {
            return false;
        };
        match self {
            Deployment::Compose => !answers.composes.is_empty(),
            Deployment::Kubernetes => answers
                .files
                .iter()
                .any(|(_, who)| who.iter().any(|w| is_workload_needer(w))),
        }
    }

    /// The plan that takes this kind's onboarding back.
    pub fn remove(self, req: &RemoveRequest) -> Result<Plan, Error> {
        match self {
            Deployment::Compose => plan_compose_remove(req),
            Deployment::Kubernetes => plan_kubernetes_remove(&req.dir),
        }
    }
}

/// `obs-init remove`: the compose file's onboarding, or, in a project onboarded through its
/// Kubernetes manifests only (no compose file, none named), the manifests'.
pub fn plan_remove(req: &RemoveRequest) -> Result<Plan, Error> {
    let only_manifests = req.file.is_none()
        && !Deployment::Compose.present(&req.dir, None)
        && Deployment::Kubernetes.onboarded(&req.dir);
    if only_manifests {
        Deployment::Kubernetes.remove(req)
    } else {
        Deployment::Compose.remove(req)
    }
}
