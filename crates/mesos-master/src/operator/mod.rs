//! The v1 operator API's side of the book: the v1 views of frameworks,
//! agents, executors and tasks ([`views`]), and the operator event stream
//! ([`events`]): the book publishes TASK_ADDED, TASK_UPDATED, AGENT_ADDED,
//! AGENT_REMOVED and FRAMEWORK_ADDED/UPDATED/REMOVED where these things
//! happen, to every SUBSCRIBE connection's bounded queue.

pub mod events;
pub mod views;

pub use events::{OPERATOR_QUEUE_CAPACITY, OperatorEvent, SharedEvent, Subscribers};

pub use views::{AgentView, FrameworkView, Parts, StateView, TaskView, time_info};
