//! Compose port specifications, reduced to the container side (what shares daprd's ports).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    pub fn single(&self) -> Option<u16> {
        (self.start == self.end).then_some(self.start)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.single() {
            Some(p) => write!(f, "{p}"),
            None => write!(f, "{}-{}", self.start, self.end),
        }
    }
}

/// The container port(s) of a short-syntax `ports` entry (`[HOST_IP:][HOST:]CONTAINER[/PROTO]`)
/// or an `expose` entry. `None` when it is not a literal port (e.g. `${PORT}`).
pub fn container_side(spec: &str) -> Option<PortRange> {
    let spec = spec.trim();
    let spec = spec.split_once('/').map_or(spec, |(p, _)| p);
    let container = spec.rsplit(':').next()?;
    let (a, b) = match container.split_once('-') {
        Some((a, b)) => (a, b),
        None => (container, container),
    };
    let start = a.trim().parse().ok()?;
    let end = b.trim().parse().ok()?;
    (start <= end).then_some(PortRange { start, end })
}

/// The port a server's command line says it listens on: `--port 8000` and `--port=8000`
/// (uvicorn, MLflow), `-p 3000` (flask run), `-b 0.0.0.0:8000` and `--bind` (gunicorn),
/// `runserver 0.0.0.0:8000` (Django), `--http :8000` and `--http-socket` (uWSGI). Words may
/// hold several shell words (`sh -c "..."`).
/// `None` when it names none, or something else than a literal port (`${PORT}`, a socket).
pub fn command_port(words: &[String]) -> Option<u16> {
    let words: Vec<&str> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .collect();
    let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p != 0);
    let bound = |s: &str| {
        if s.starts_with("unix:") || s.starts_with("fd:") {
            return None;
        }
        port(s.rsplit(':').next()?)
    };
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let found = match *w {
            "--port" | "-p" => port(next),
            // uWSGI's HTTP router and its workers' own HTTP (not `--socket`: uwsgi protocol).
            "--bind" | "-b" | "--http" | "--http-socket" => bound(next),
            "runserver" => bound(next),
            _ => match w.split_once('=') {
                Some(("--port", v)) => port(v),
                Some(("--bind" | "--http" | "--http-socket", v)) => bound(v),
                _ => None,
            },
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Whether the command runs uWSGI serving HTTP (`uwsgi --http :8000`, `--http-socket`): a
/// web server whose port `command_port` reads, though it has no default port.
pub fn uwsgi_http(words: &[String]) -> bool {
    let words: Vec<&str> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .collect();
    words.iter().any(|w| w.rsplit('/').next() == Some("uwsgi"))
        && words.iter().any(|w| {
            let flag = w.split('=').next().unwrap_or(w);
            flag == "--http" || flag == "--http-socket"
        })
}

/// The port a server listens on when its command line names none: its documented default
/// (uvicorn, gunicorn, hypercorn, daphne, granian, `fastapi run`, `manage.py runserver`:
/// 8000; `flask run`, `mlflow server|ui`: 5000; `dagster-webserver`: 3000), with the
/// server's name. `None` when no server obs-init knows is run.
pub fn default_port(words: &[String]) -> Option<(u16, &'static str)> {
    const SERVERS: [(&str, Option<&str>, u16); 11] = [
        ("uvicorn", None, 8000),
        ("gunicorn", None, 8000),
        ("hypercorn", None, 8000),
        ("daphne", None, 8000),
        ("granian", None, 8000),
        ("fastapi", Some("run"), 8000),
        ("manage.py", Some("runserver"), 8000),
        ("flask", Some("run"), 5000),
        ("mlflow", Some("server"), 5000),
        ("mlflow", Some("ui"), 5000),
        ("dagster-webserver", None, 3000),
    ];
    let words: Vec<&str> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .collect();
    let program = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    for (i, w) in words.iter().enumerate() {
        let name = program(w);
        for (server, sub, port) in SERVERS {
            if name != server {
                continue;
            }
            let runs = match sub {
                None => true,
                Some(sub) => words[i + 1..].iter().take(3).any(|x| *x == sub),
            };
            if runs {
                return Some((port, server));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_without_a_port_listens_on_its_default() {
        let words = |s: &str| vec![s.to_string()];
        assert_eq!(
            default_port(&words("fastapi run app/main.py")),
            Some((8000, "fastapi"))
        );
        assert_eq!(
            default_port(&words("/venv/bin/uvicorn main:app")),
            Some((8000, "uvicorn"))
        );
        assert_eq!(
            default_port(&words("flask --app hello run")),
            Some((5000, "flask"))
        );
        assert_eq!(
            default_port(&words("python manage.py runserver")),
            Some((8000, "manage.py"))
        );
        assert_eq!(default_port(&words("python manage.py run")), None);
        assert_eq!(default_port(&words("mlflow ui")), Some((5000, "mlflow")));
        assert_eq!(default_port(&words("celery -A app worker")), None);
    }

    use super::*;

    #[test]
    fn a_servers_command_line_names_its_port() {
        let words = |s: &str| vec![s.to_string()];
        assert_eq!(
            command_port(&words("uvicorn main:app --host 0.0.0.0 --port 8000")),
            Some(8000)
        );
        assert_eq!(
            command_port(&words("uvicorn main:app --port=8001")),
            Some(8001)
        );
        assert_eq!(command_port(&words("flask run -p 3000")), Some(3000));
        assert_eq!(
            command_port(&words("gunicorn -b 0.0.0.0:8002 app:app")),
            Some(8002)
        );
        assert_eq!(
            command_port(&words("gunicorn --bind=:8003 app:app")),
            Some(8003)
        );
        assert_eq!(
            command_port(&words("python manage.py runserver 0.0.0.0:8004")),
            Some(8004)
        );
        assert_eq!(
            command_port(&[
                "sh".into(),
                "-c".into(),
                "uvicorn app:app --port 8005".into()
            ]),
            Some(8005)
        );
        assert_eq!(
            command_port(&words("gunicorn -b unix:/tmp/app.sock app:app")),
            None
        );
        assert_eq!(
            command_port(&words("uwsgi --http :8004 --module app:app")),
            Some(8004)
        );
        assert_eq!(
            command_port(&words("uwsgi --http-socket=0.0.0.0:8005 -w app:app")),
            Some(8005)
        );
        assert_eq!(
            command_port(&words("uwsgi --socket :3031 -w app:app")),
            None
        );
        assert_eq!(command_port(&words("uvicorn app:app --port ${PORT}")), None);
        assert_eq!(command_port(&words("uvicorn app:app --port 0")), None);
        assert_eq!(command_port(&words("python worker.py")), None);
    }

    #[test]
    fn the_container_side_is_the_last_part() {
        assert_eq!(container_side("8000").and_then(|r| r.single()), Some(8000));
        assert_eq!(
            container_side("127.0.0.1:80:3500/tcp").and_then(|r| r.single()),
            Some(3500)
        );
        assert_eq!(
            container_side("[::1]:80:90").and_then(|r| r.single()),
            Some(90)
        );
        let range = container_side("9000-9100:9000-9100").expect("range");
        assert!(range.contains(9090));
        assert_eq!(container_side("${PORT}"), None);
    }
}
