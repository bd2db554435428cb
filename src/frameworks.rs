//! The frameworks obs-init knows.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Framework {
    FastApi,
    Flask,
    Django,
    Celery,
    Mlflow,
    Dagster,
    /// Plain Python: the module and its dependencies, nothing framework-specific.
    Python,
}

impl Framework {
    pub const ALL: [Framework; 7] = [
        Framework::FastApi,
        Framework::Flask,
        Framework::Django,
        Framework::Celery,
        Framework::Mlflow,
        Framework::Dagster,
        Framework::Python,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Framework::FastApi => "fastapi",
            Framework::Flask => "flask",
            Framework::Django => "django",
            Framework::Celery => "celery",
            Framework::Mlflow => "mlflow",
            Framework::Dagster => "dagster",
            Framework::Python => "python",
        }
    }

    /// The framework a distribution or import name belongs to.
    pub fn of_package(name: &str) -> Option<Framework> {
        match name {
            "fastapi" => Some(Framework::FastApi),
            "flask" => Some(Framework::Flask),
            "django" => Some(Framework::Django),
            "celery" => Some(Framework::Celery),
            "mlflow" | "mlflow-skinny" => Some(Framework::Mlflow),
            "dagster" | "dagster-webserver" | "dagster-postgres" | "dagster-docker" => {
                Some(Framework::Dagster)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
