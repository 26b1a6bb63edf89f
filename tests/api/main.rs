//! End-to-end tests: the real application (built by the same `Application::build` as
//! `main`) against a fake Bot API server, a fake Omnidesk and a real Redis.

mod deep_links;
mod delivery;
mod edge_cases;
mod fairness;
mod fake_omnidesk;
mod fake_telegram;
mod helpers;
mod intake_flow;
#[path = "../common/keys.rs"]
mod keys;
mod privacy;
mod processes;
mod resilience;
mod round_trips;
#[path = "../common/sample.rs"]
mod sample;
mod two_way;
mod webhook;
