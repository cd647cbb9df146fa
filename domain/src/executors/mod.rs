//! Executors: run one asset version's script in the sandbox, chosen by asset kind.
