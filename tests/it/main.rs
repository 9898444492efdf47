//! The integration tests: the real binary against moto (AWS), a Docker engine and registry, and
//! GitHub API stubs. One crate, so the support code and the binary are built once.

mod action;
mod artillery;
mod common;
mod fargate;
mod faults;
mod generate;
mod github;
mod history;
mod hostile;
mod image;
mod jmeter;
mod k6;
mod local;
mod locust;
mod logs;
mod payloads;
mod regions;
mod report;
mod secrets;
mod server;
