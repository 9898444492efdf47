//! The tasks' logs in every region of a run: one CloudWatch Logs reader a region, each with its
//! own client and pace (the quotas are a region's), all handing lines to the one sink.

use std::collections::HashMap;

use anyhow::Result;
use tokio::sync::mpsc;

use super::cloudwatch::CloudWatchLogs;
use crate::logs::{LineSink, LogSource};
use crate::task::TaskRef;

/// The region of an ECS ARN (`arn:aws:ecs:REGION:ACCOUNT:task/…`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|region| !region.is_empty())
}

/// One reader a region, in the run's order of regions.
pub struct RegionalLogs {
    pub sources: Vec<(String, CloudWatchLogs)>,
}

impl LogSource for RegionalLogs {
    async fn follow(
        self,
        tasks: Vec<TaskRef>,
        mut stopped: mpsc::UnboundedReceiver<usize>,
        sink: LineSink,
    ) -> Result<LineSink> {
        let mut sources = self.sources;
        if sources.len() == 1 {
            let (_, source) = sources.remove(0);
            return source.follow(tasks, stopped, sink).await;
        }
        // A task goes to its region's reader (the first, should its ARN name none of them).
        let reader_of = |task: &TaskRef| {
            arn_region(&task.id)
                .and_then(|region| sources.iter().position(|(name, _)| name == region))
                .unwrap_or(0)
        };
        let mut own: Vec<Vec<TaskRef>> = vec![Vec::new(); sources.len()];
        for task in tasks {
            own[reader_of(&task)].push(task);
        }
        let mut senders: HashMap<usize, mpsc::UnboundedSender<usize>> = HashMap::new();
        let mut readers = Vec::new();
        for ((_, source), tasks) in sources.into_iter().zip(own) {
            if tasks.is_empty() {
                continue;
            }
            let (send, receive) = mpsc::unbounded_channel();
            for task in &tasks {
                senders.insert(task.index(), send.clone());
            }
            readers.push(source.follow(tasks, receive, sink.clone()));
        }
        // Each stop goes to the reader of the task's region. The senders are kept until every
        // reader is done: a reader takes a closed channel as an error.
        let forward = async move {
            while let Some(index) = stopped.recv().await {
                if let Some(send) = senders.get(&index) {
                    let _ = send.send(index);
                }
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            read = futures_util::future::try_join_all(readers) => { read?; }
            () = forward => {}
        }
        Ok(sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_of_an_arn() {
        assert_eq!(
            arn_region("arn:aws:ecs:eu-west-1:123456789012:task/lt/0123"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("0123"), None);
    }
}
