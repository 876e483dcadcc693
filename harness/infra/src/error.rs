//! Why provisioning failed, with what a user needs to fix it: the package to install,
//! the server's log, the URL that did not answer.

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("{program} not found ({looked_in}): install it with `apt-get install {package}`")]
    BinaryMissing {
        program: &'static str,
        looked_in: String,
        package: &'static str,
    },

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// `waited_for` says what did not answer and the last error; `log_excerpt` is the
    /// end of the server's log, headed by its path.
    #[error("{server} did not answer: {waited_for}\n{log_excerpt}")]
    NotReady {
        server: &'static str,
        waited_for: String,
        log_excerpt: String,
    },

    #[error("{server} exited during start-up ({status})\n{log_excerpt}")]
    ExitedEarly {
        server: &'static str,
        status: String,
        log_excerpt: String,
    },

    #[error("{step} failed ({status})\n{output}")]
    CommandFailed {
        step: String,
        status: String,
        output: String,
    },

    #[error("containers provider: {0}")]
    Containers(String),

    #[error("external provider: {0}")]
    External(String),

    #[error(
        "no way to get Redis and Postgres here: {docker}; and {local}.\n\
         Install the local servers with `apt-get install redis-server postgresql`, \
         or start a Docker daemon and build the images with `scripts/build-images`"
    )]
    NothingAvailable { docker: String, local: String },
}

impl InfraError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        InfraError::Io {
            what: what.into(),
            source,
        }
    }
}
