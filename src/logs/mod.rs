//! Following every task's CloudWatch Logs stream live, and printing it grouped per task.

pub mod capture;
pub mod follower;
pub mod location;
pub mod rate;
pub mod screen;
