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

#[cfg(test)]
mod tests {
    use super::*;

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
